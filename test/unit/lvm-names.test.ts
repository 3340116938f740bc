import { describe, expect, it } from 'vitest';

import { ImageBackendError } from '../../src/errors.js';
import { configString, checkDevices } from '../../src/lvm/config.js';
import {
  checkLogicalVolumeName,
  checkVolumeGroupName,
  checkVolumeNames,
  escapeDiskName,
  parseVolumePath,
  volumeName,
  volumePath,
} from '../../src/lvm/names.js';
import { resolveLvmOptions } from '../../src/lvm/options.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ImageBackendError);
    return (e as ImageBackendError).code;
  }
  return undefined;
}

describe('LVM names', () => {
  it("doubles '_' in disk names as nova does", () => {
    expect(escapeDiskName('disk')).toBe('disk');
    expect(escapeDiskName('disk.eph_0')).toBe('disk.eph__0');
    expect(volumeName('0f6c1d2e-3b4a-4c5d-8e9f-001122334455', 'disk_a_b')).toBe('0f6c1d2e-3b4a-4c5d-8e9f-001122334455_disk__a__b');
  });

  it('accepts what lvm2 accepts', () => {
    for (const n of ['vg0', 'nova-vg', 'a.b+c_d', 'x'.repeat(127), '_x']) expect(code(() => checkVolumeGroupName(n))).toBeUndefined();
    for (const n of ['uuid_disk', 'disk.local', 'a+b', 'snap']) expect(code(() => checkLogicalVolumeName(n))).toBeUndefined();
  });

  it('rejects what lvm2 rejects, with INVALID_ARGUMENT naming the problem', () => {
    for (const n of ['', '-a', '.', '..', 'a b', 'a/b', 'é', 'x'.repeat(128), 'a;rm', undefined, 3]) {
      expect(code(() => checkVolumeGroupName(n))).toBe('INVALID_ARGUMENT');
    }
    for (const n of ['snapshot0', 'pvmove1', 'a_tdata', 'b_rimage_0', 'c_mlog', 'x_vorigin']) {
      expect(code(() => checkLogicalVolumeName(n))).toBe('INVALID_ARGUMENT');
    }
    expect(() => checkLogicalVolumeName('a_tmeta')).toThrow(/reserved part _tmeta/);
    expect(code(() => volumeName('uuid', 'disk/../x'))).toBe('INVALID_ARGUMENT');
    expect(code(() => volumeName('uuid', ''))).toBe('INVALID_ARGUMENT');
  });

  it('limits a logical volume name with its group as lvm2 does: at most 124 characters together (123 alone)', () => {
    // The old check let 127-character LV names through; lvm2 refuses them.
    expect(code(() => checkLogicalVolumeName('x'.repeat(127)))).toBe('INVALID_ARGUMENT');
    expect(code(() => checkLogicalVolumeName('x'.repeat(123)))).toBeUndefined();
    expect(code(() => checkLogicalVolumeName('x'.repeat(124)))).toBe('INVALID_ARGUMENT');
    expect(code(() => checkVolumeNames('nova-vg', 'x'.repeat(117)))).toBeUndefined();
    expect(() => checkVolumeNames('nova-vg', 'x'.repeat(118))).toThrow(/at most 124 characters \(these have 125\)/);
    expect(code(() => volumePath('nova-vg', 'x'.repeat(118)))).toBe('INVALID_ARGUMENT');
    expect(code(() => parseVolumePath(`/dev/nova-vg/${'x'.repeat(118)}`))).toBe('INVALID_ARGUMENT');
    expect(parseVolumePath(`/dev/nova-vg/${'x'.repeat(117)}`).logicalVolume).toHaveLength(117);
  });

  it('maps /dev/<vg>/<lv> both ways', () => {
    expect(volumePath('vg0', 'u_disk')).toBe('/dev/vg0/u_disk');
    expect(parseVolumePath('/dev/vg0/u_disk')).toEqual({ volumeGroup: 'vg0', logicalVolume: 'u_disk' });
    expect(parseVolumePath('vg0/u_disk')).toEqual({ volumeGroup: 'vg0', logicalVolume: 'u_disk' });
    for (const p of ['/dev/sda', '/dev/mapper/vg0-x', '--all', '/dev/vg0/-x', '@tag', '']) {
      expect(code(() => parseVolumePath(p))).toBe('INVALID_ARGUMENT');
    }
  });
});

describe('LVM options and config', () => {
  it('requires a volume group: LVM_NOT_CONFIGURED', () => {
    expect(code(() => resolveLvmOptions(undefined))).toBe('LVM_NOT_CONFIGURED');
    expect(code(() => resolveLvmOptions({ volumeGroup: '' }))).toBe('LVM_NOT_CONFIGURED');
    expect(() => resolveLvmOptions({})).toThrow(/images_volume_group/);
    expect(resolveLvmOptions({ volumeGroup: 'vg0' })).toEqual({ volumeGroup: 'vg0', sparse: false, volumeClear: 'zero', volumeClearSizeMiB: 0 });
    expect(code(() => resolveLvmOptions({ volumeGroup: 'vg0', volumeClear: 'dd' as 'zero' }))).toBe('INVALID_ARGUMENT');
    expect(code(() => resolveLvmOptions({ volumeGroup: 'vg0', volumeClearSizeMiB: -1 }))).toBe('INVALID_ARGUMENT');
  });

  it('builds one --config string with activation, filter and JSON output', () => {
    expect(configString(true, undefined)).toBe('log/report_command_log=1 report/output_format=json');
    expect(configString(false, ['/dev/loop3', '/dev/disk/by-id/a.b+c'])).toBe(
      'global/activation=0 devices/filter=["a|^/dev/loop3$|","a|^/dev/disk/by-id/a[.]b[+]c$|","r|.*|"] log/report_command_log=1 report/output_format=json',
    );
    for (const bad of [[], ['loop3'], ['/dev/a b'], ['/dev/a|b'], ["/dev/a'"], '/dev/sda']) {
      expect(code(() => checkDevices(bad))).toBe('INVALID_ARGUMENT');
    }
  });
});
