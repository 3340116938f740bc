// What only the liblvm2cmd runner has: the in-process command line, the
// process-wide umask lvm2 changes, and the dedicated thread's teardown (in
// child processes: exit mid-command, natural exit, a terminated worker).
import { execFile } from 'node:child_process';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ImageBackendError } from '../../src/errors.js';
import { LvmLibRunner } from '../../src/lvm/LvmLibRunner.js';
import { parseLvmJson } from '../../src/lvm/report.js';
import { createTestVolumeGroup, requireLvmTools, type TestVolumeGroup } from '../helpers/lvm.js';

let vg: TestVolumeGroup;
let runner: LvmLibRunner;

beforeAll(async () => {
  requireLvmTools('liblvm2cmd runner tests');
  vg = await createTestVolumeGroup(64 << 20);
  runner = new LvmLibRunner({ devices: [vg.device] });
});

afterAll(async () => {
  await runner?.close();
  await vg?.destroy();
});

function child(mode: string): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(import.meta.dirname, 'children', 'lvm-exit.mjs'), mode], { timeout: 60_000 }, (error, _stdout, stderr) => {
      const e = error as (Error & { code?: number; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stderr });
    });
  });
}

describe('LvmLibRunner', () => {
  it('passes arguments with spaces through liblvm2cmd as one word', async () => {
    const result = await runner.run(['vgs', '-o', 'vg_name', '--select', `vg_name = ${vg.name}`]);
    expect(result.status).toBe(0);
    expect(parseLvmJson(result).reports.vg).toEqual([{ vg_name: vg.name }]);
    expect(result.command).toContain(`vg_name = ${vg.name}`);
  });

  it("refuses an argument liblvm2cmd's splitter cannot represent", async () => {
    const error = await runner.run(['vgs', `a'b"c d`]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageBackendError);
    expect((error as ImageBackendError).code).toBe('INVALID_ARGUMENT');
  });

  it('reports an unknown command and bad options by status, like the lvm program', async () => {
    expect((await runner.run(['nosuchcommand'])).status).toBe(2);
    expect((await runner.run(['vgs', '--nosuchoption'])).status).toBe(3);
  });

  it('leaves the process umask as it was (lvm2 sets 077)', async () => {
    const before = process.umask();
    await runner.run(['vgs', vg.name]);
    expect(process.umask()).toBe(before);
  });

  it('runs concurrent calls one at a time, each with its own output', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => runner.run(i % 2 ? ['vgs', '-o', 'vg_name', vg.name] : ['lvs', '-o', 'lv_name', `${vg.name}/none${i}`])),
    );
    results.forEach((r, i) => {
      if (i % 2) expect(parseLvmJson(r).reports.vg).toEqual([{ vg_name: vg.name }]);
      else expect(r.stdout + r.stderr).toContain(`none${i}`);
    });
  });

  it('rejects commands after close', async () => {
    const closed = new LvmLibRunner();
    await closed.close();
    const error = await closed.run(['vgs']).catch((e: unknown) => e);
    expect((error as ImageBackendError).code).toBe('LVM_FAILED');
  });

  for (const mode of ['midflight', 'natural', 'worker']) {
    it(`tears the LVM thread down cleanly: ${mode} exit`, async () => {
      const { code, signal, stderr } = await child(mode);
      expect({ code, signal, stderr }).toEqual({ code: 0, signal: null, stderr: '' });
    });
  }
});
