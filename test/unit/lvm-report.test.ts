import { describe, expect, it } from 'vitest';

import { commandError, errorMessages, parseLvmJson } from '../../src/lvm/report.js';

const result = (stdout: string, status = 0, stderr = '') => ({ status, stdout, stderr, command: ['lvcreate', '--config', 'x'] });

describe('lvm2 JSON reports', () => {
  it("reads lvm2 2.03's log with its trailing comma, keeping commas inside strings", () => {
    const out = `  {
      "log": [
          {"log_seq_num":"1", "log_type":"print", "log_message":"Logical volume \\"a,]\\" created.", "log_object_name":"vg"},
      ]
  }`;
    const json = parseLvmJson(result(out));
    expect(json.log).toEqual([{ type: 'print', message: 'Logical volume "a,]" created.', objectType: '', objectName: 'vg', objectGroup: '' }]);
  });

  it('collects rows of every report', () => {
    const out = '{"report": [ {"vg": [ {"vg_name":"a"}, {"vg_name":"b"} ]}, {"pv": [ {"pv_name":"/dev/x"} ]} ], "log": []}';
    expect(parseLvmJson(result(out)).reports).toEqual({ vg: [{ vg_name: 'a' }, { vg_name: 'b' }], pv: [{ pv_name: '/dev/x' }] });
    expect(parseLvmJson(result('')).reports).toEqual({});
    expect(() => parseLvmJson(result('{ nope'))).toThrow(/not JSON/);
  });

  it('types a failure from the log, else from stderr', () => {
    const log = (m: string) => `{"log": [ {"log_type":"error", "log_message":"${m}"}, {"log_type":"status", "log_message":"failure"} ]}`;
    expect(commandError(result(log('Volume group \\"x\\" not found'), 5)).code).toBe('LVM_NOT_FOUND');
    expect(commandError(result(log('Failed to find logical volume \\"x/y\\"'), 5)).code).toBe('LVM_NOT_FOUND');
    // A missing kernel module is no missing volume.
    expect(commandError(result('', 5, 'modprobe: FATAL: Module dm-snapshot not found in directory /lib/modules/6.1.0\n')).code).toBe('LVM_FAILED');
    expect(commandError(result(log('Logical Volume \\"b\\" already exists in volume group \\"x\\"'), 5)).code).toBe('LVM_EXISTS');
    expect(commandError(result(log('Volume group \\"x\\" has insufficient free space (1 extents): 2 required.'), 5)).code).toBe(
      'LVM_NO_SPACE',
    );
    const other = commandError(result('', 3, '  WARNING: Activation disabled. No device-mapper interaction will be attempted.\n  lvcreate: unrecognized option\n'));
    expect(other.code).toBe('LVM_FAILED');
    expect(other.message).toBe('lvm lvcreate failed: lvcreate: unrecognized option');
    expect(other.process?.exitCode).toBe(3);
    expect(errorMessages(result('', 5, ''))).toEqual([]);
    expect(commandError(result('', 5)).message).toMatch(/exit status 5/);
  });
});
