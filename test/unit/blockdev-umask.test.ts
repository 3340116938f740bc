// liblvm2cmd sets the process umask to 077 while a command runs (global/umask)
// and the in-process runner puts it back after each command; files this
// library creates *during* a command must still get their normal mode, or
// disks and disk.info come out 0600 (issue 13: 196 of 200 disks did). Runs
// LVM lib-runner commands back to back on a real VG (loop device) while
// creating overlays, copies and disk.info entries, and checks every mode.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { copyRawData } from '../../src/blockdev/copy.js';
import { DiskInfo } from '../../src/diskinfo/DiskInfo.js';
import { createQcow2Overlay } from '../../src/image/overlay.js';
import { LvmLibRunner } from '../../src/lvm/LvmLibRunner.js';
import { createTestVolumeGroup, requireLvmTools, type TestVolumeGroup } from '../helpers/lvm.js';

let vg: TestVolumeGroup;
let runner: LvmLibRunner;
let dir: string;

beforeAll(async () => {
  requireLvmTools('the umask test');
  vg = await createTestVolumeGroup(64 << 20);
  runner = new LvmLibRunner({ devices: [vg.device] });
  dir = await mkdtemp(join(tmpdir(), 'imagebackend-umask-'));
}, 120_000);

afterAll(async () => {
  await runner?.close();
  await vg?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('files created while the in-process LVM runner works', () => {
  it('get mode 0644 (overlays, copies, disk.info), and the umask is back afterwards', async () => {
    const umask = process.umask();
    const base = join(dir, 'base.raw');
    await writeFile(base, Buffer.alloc(1 << 20, 7));
    let lvmRunning = true;
    let commands = 0;
    // Back-to-back commands: the 077 window is open most of the time.
    const lvm = (async () => {
      while (lvmRunning) {
        await runner.run(['vgs', vg.name]);
        commands++;
      }
    })();
    const created: string[] = [];
    try {
      // Wait until the LVM thread is busy before creating anything.
      while (commands === 0) await runner.run(['vgs', vg.name]).then(() => commands++);
      for (let i = 0; i < 40; i++) {
        const instance = join(dir, `inst${i}`);
        const overlay = join(dir, `overlay${i}.qcow2`);
        const copy = join(dir, `copy${i}.raw`);
        const info = DiskInfo.forInstance(instance);
        await Promise.all([
          createQcow2Overlay(overlay, { backingFile: base, backingFormat: 'raw' }),
          copyRawData(base, copy, { reflink: 'never' }),
          info.recordFormat(join(instance, 'disk'), 'qcow2'),
        ]);
        created.push(overlay, copy, info.path);
      }
    } finally {
      lvmRunning = false;
      await lvm;
    }
    expect(commands).toBeGreaterThan(5);
    const modes = await Promise.all(created.map(async (p) => [p, ((await stat(p)).mode & 0o777).toString(8)] as const));
    expect(modes.filter(([, m]) => m !== '644')).toEqual([]);
    expect(process.umask()).toBe(umask);
  });
});
