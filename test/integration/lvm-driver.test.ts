// The lvm2 driver against real lvm2 on a loop device, once per runner (the
// `lvm` program and liblvm2cmd). Where the kernel has no device-mapper, lvm2
// runs with activation=0: metadata operations are real, volumes get no device
// node, and the data-path functions run on the loop device itself. The
// output says which mode ran.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ImageBackendError, VolumesNotRemovedError } from '../../src/errors.js';
import { Lvm2Driver } from '../../src/lvm/Lvm2Driver.js';
import { LvmCliRunner } from '../../src/lvm/LvmCliRunner.js';
import type { LvmRunner } from '../../src/lvm/LvmRunner.js';
import { overwriteRandom } from '../../src/blockdev/index.js';
import { createTestVolumeGroup, requireLvmTools, type TestVolumeGroup } from '../helpers/lvm.js';
import { RUNNERS } from '../helpers/lvm-runners.js';
import { isZero, readRange, rejection } from '../helpers/assert.js';

const MiB = 1 << 20;

let vg: TestVolumeGroup;

beforeAll(async () => {
  requireLvmTools('LVM driver tests');
  vg = await createTestVolumeGroup(256 * MiB);
  process.stderr.write(
    `[lvm] mode: ${vg.activation ? 'device-mapper present: activation on' : 'no device-mapper in this kernel: lvm2 with global/activation=0, data path on the loop device'} (VG ${vg.name} on ${vg.device})\n`,
  );
});

afterAll(async () => {
  await vg?.destroy();
});

describe.each(RUNNERS)('Lvm2Driver over the $name runner', ({ make }) => {
  let runner: LvmRunner;
  let driver: Lvm2Driver;

  beforeAll(() => {
    runner = make({ devices: [vg.device] });
    driver = new Lvm2Driver(runner);
  });

  afterAll(async () => {
    await driver?.close();
  });

  it('states its mode', async () => {
    const mode = await driver.mode();
    process.stderr.write(`[lvm] ${runner.kind} runner mode: ${mode}\n`);
    expect(mode).toBe(vg.activation ? 'activation' : 'no-activation');
  });

  it('reports the volume group in bytes', async () => {
    const info = await driver.vgInfo(vg.name);
    expect(info.name).toBe(vg.name);
    expect(info.extentSize).toBe(4 * MiB);
    expect(info.total).toBeGreaterThan(240 * MiB);
    expect(info.total).toBeLessThanOrEqual(256 * MiB);
    expect(info.free + info.used).toBe(info.total);
    const missing = await rejection(driver.vgInfo('ibtest_no_such_vg'));
    expect(missing.code).toBe('LVM_NOT_FOUND');
    expect(missing.message).toMatch(/ibtest_no_such_vg/);
  });

  it('creates volumes rounded up to whole extents, lists and describes them', async () => {
    const before = await driver.vgInfo(vg.name);
    const a = await driver.createVolume(vg.name, `${runner.kind}_a`, 5 * MiB);
    expect(a).toEqual({ path: `/dev/${vg.name}/${runner.kind}_a`, volumeGroup: vg.name, logicalVolume: `${runner.kind}_a`, size: 8 * MiB });
    const b = await driver.createVolume(vg.name, `${runner.kind}_b`, 4 * MiB);
    expect(b.size).toBe(4 * MiB);
    expect((await driver.vgInfo(vg.name)).free).toBe(before.free - 12 * MiB);
    const names = await driver.listVolumes(vg.name);
    expect(names).toEqual(expect.arrayContaining([`${runner.kind}_a`, `${runner.kind}_b`]));
    const info = await driver.volumeInfo(a.path);
    expect(info).toMatchObject({ path: a.path, volumeGroup: vg.name, logicalVolume: `${runner.kind}_a`, size: 8 * MiB });
    expect(info.attr).toMatch(/^-wi/);
    expect(info.uuid).toMatch(/^[\w-]{38}$/);
    expect(info.fields.vg_name).toBe(vg.name);
    expect(info.fields.lv_name).toBe(`${runner.kind}_a`);
    // The same through `<vg>/<lv>`.
    expect((await driver.volumeInfo(`${vg.name}/${runner.kind}_b`)).size).toBe(4 * MiB);
    await driver.removeVolumes([a.path, b.path]);
    expect(await driver.listVolumes(vg.name)).not.toContain(`${runner.kind}_a`);
  });

  it('refuses a volume that exists, a group that does not, and more than the free space', async () => {
    const v = await driver.createVolume(vg.name, `${runner.kind}_dup`, MiB);
    try {
      const exists = await rejection(driver.createVolume(vg.name, `${runner.kind}_dup`, MiB));
      expect(exists.code).toBe('LVM_EXISTS');
      expect(exists.process?.command[0]).toBe('lvcreate');
    } finally {
      await driver.removeVolumes([v.path]);
    }
    expect((await rejection(driver.createVolume('ibtest_no_such_vg', 'x', MiB))).code).toBe('LVM_NOT_FOUND');
    const free = (await driver.vgInfo(vg.name)).free;
    const full = await rejection(driver.createVolume(vg.name, `${runner.kind}_big`, free + 1));
    expect(full.code).toBe('LVM_NO_SPACE');
    expect(full.message).toMatch(new RegExp(`${free} bytes free`));
    // A volume of exactly the free space fits.
    const all = await driver.createVolume(vg.name, `${runner.kind}_all`, free);
    expect(all.size).toBe(free);
    await driver.removeVolumes([all.path]);
  });

  it('accepts the longest name lvm2 accepts in this group and refuses one more character, as lvm2 itself does', async () => {
    // lvm2 limits the <vg>/<lv> pair: len(vg) + len(lv) <= 124.
    const longest = `${runner.kind}`.padEnd(124 - vg.name.length, 'x');
    const v = await driver.createVolume(vg.name, longest, MiB);
    expect(await driver.listVolumes(vg.name)).toContain(longest);
    await driver.removeVolumes([v.path]);
    const tooLong = `${longest}y`;
    const ours = await rejection(driver.createVolume(vg.name, tooLong, MiB));
    expect(ours.code).toBe('INVALID_ARGUMENT');
    expect(ours.message).toMatch(/at most 124 characters/);
    // lvm2 refuses it too (this is the name the old check let through to lvm2).
    expect(() => vg.lvm(['lvcreate', '--yes', '-Zn', '-Wn', '-L', '4m', '-n', tooLong, vg.name])).toThrow(/is not supported|too long|Invalid/);
    expect(await driver.listVolumes(vg.name)).not.toContain(tooLong);
  });

  it('validates names and sizes before running lvm2', async () => {
    for (const lv of ['', '-x', 'a b', 'snapshot1', 'x_tmeta', '..', 'a/b', 'x'.repeat(128)]) {
      expect((await rejection(driver.createVolume(vg.name, lv, MiB))).code).toBe('INVALID_ARGUMENT');
    }
    expect((await rejection(driver.createVolume('bad vg', 'x', MiB))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(driver.createVolume(vg.name, 'x', 0))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(driver.createVolume(vg.name, 'x', 1.5))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(driver.volumeInfo('/dev/sda'))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(driver.volumeInfo('--all'))).code).toBe('INVALID_ARGUMENT');
  });

  it('creates a sparse volume where device-mapper allows it, and says why not otherwise', async () => {
    const name = `${runner.kind}_sparse`;
    if (vg.activation) {
      const v = await driver.createVolume(vg.name, name, 1024 * MiB, { sparse: true });
      expect(v.size).toBe(1024 * MiB);
      expect((await driver.volumeInfo(v.path)).size).toBe(1024 * MiB);
      await driver.removeVolumes([v.path]);
    } else {
      // lvm2 needs device-mapper for the zero-target snapshot of a sparse volume.
      const error = await rejection(driver.createVolume(vg.name, name, 1024 * MiB, { sparse: true }));
      expect(error.code).toBe('LVM_FAILED');
      expect(error.message).toMatch(/device-mapper/);
      expect(await driver.listVolumes(vg.name)).not.toContain(name);
    }
  });

  it('reports a missing volume as LVM_NOT_FOUND', async () => {
    const error = await rejection(driver.volumeInfo(`/dev/${vg.name}/nope`));
    expect(error.code).toBe('LVM_NOT_FOUND');
    expect(error.volumeGroup).toBe(vg.name);
    expect(error.logicalVolume).toBe('nope');
  });

  it('tries every volume to remove, then lists those that failed in one error', async () => {
    const a = await driver.createVolume(vg.name, `${runner.kind}_r1`, MiB);
    const b = await driver.createVolume(vg.name, `${runner.kind}_r2`, MiB);
    const missing = `/dev/${vg.name}/${runner.kind}_gone`;
    const error = await rejection(driver.removeVolumes([missing, a.path, 'not a path', b.path]));
    expect(error).toBeInstanceOf(VolumesNotRemovedError);
    expect(error.code).toBe('VOLUMES_NOT_REMOVED');
    const failures = (error as VolumesNotRemovedError).failures;
    expect(failures.map((f) => f.path)).toEqual([missing, 'not a path']);
    expect(failures.map((f) => f.error.code)).toEqual(['LVM_NOT_FOUND', 'INVALID_ARGUMENT']);
    const left = await driver.listVolumes(vg.name);
    expect(left).not.toContain(`${runner.kind}_r1`);
    expect(left).not.toContain(`${runner.kind}_r2`);
  });

  it('reads a device size with BLKGETSIZE64; a missing path is DISK_NOT_FOUND', async () => {
    expect(await driver.getVolumeSize(vg.device)).toBe(256 * MiB);
    expect((await rejection(driver.getVolumeSize(`/dev/${vg.name}/nope`))).code).toBe('DISK_NOT_FOUND');
  });

  // The data path: with activation=0 no volume has a device node, so the
  // clears run on loop devices of their own (the PV's would lose its label).
  it('clears with zeros, capped at volumeClearSizeMiB, with progress', async () => {
    const dev = await vg.scratchDevice(16 * MiB);
    await overwriteRandom(dev, { length: 16 * MiB });
    const events: Array<[number, number]> = [];
    const result = await driver.clearVolume(dev, { volumeClear: 'zero', volumeClearSizeMiB: 4, onProgress: (d, t) => events.push([d, t]) });
    expect(result).toEqual({ bytes: 4 * MiB, missing: false });
    expect(isZero(await readRange(dev, 0, 4 * MiB))).toBe(true);
    expect(isZero(await readRange(dev, 4 * MiB, MiB))).toBe(false);
    expect(events.at(-1)).toEqual([4 * MiB, 4 * MiB]);
    // 0 means the whole device; a size past the end is capped at it.
    expect((await driver.clearVolume(dev, { volumeClear: 'zero' })).bytes).toBe(16 * MiB);
    expect((await driver.clearVolume(dev, { volumeClear: 'zero', volumeClearSizeMiB: 1000 })).bytes).toBe(16 * MiB);
    expect(isZero(await readRange(dev, 0, 16 * MiB))).toBe(true);
  });

  it('shreds with random data, in passes, with progress; none leaves the data', async () => {
    const dev = await vg.scratchDevice(16 * MiB);
    await driver.clearVolume(dev, { volumeClear: 'zero' });
    const events: number[] = [];
    const result = await driver.clearVolume(dev, {
      volumeClear: 'shred',
      volumeClearSizeMiB: 2,
      shredPasses: 2,
      onProgress: (d, t) => {
        expect(t).toBe(4 * MiB);
        events.push(d);
      },
    });
    expect(result).toEqual({ bytes: 2 * MiB, missing: false });
    for (let i = 1; i < events.length; i++) expect(events[i]).toBeGreaterThan(events[i - 1] as number);
    expect(events.at(-1)).toBe(4 * MiB);
    const shredded = await readRange(dev, 0, 2 * MiB);
    expect(shredded.filter((b) => b === 0).length).toBeLessThan(20_000);
    expect(isZero(await readRange(dev, 2 * MiB, MiB))).toBe(true);
    expect(await driver.clearVolume(dev, { volumeClear: 'none' })).toEqual({ bytes: 0, missing: false });
    expect((await readRange(dev, 0, 2 * MiB)).equals(shredded)).toBe(true);
    // Without shredPasses: three passes, as nova's `shred -n3`.
    let total = 0;
    await driver.clearVolume(dev, { volumeClear: 'shred', volumeClearSizeMiB: 1, onProgress: (_d, t) => (total = t) });
    expect(total).toBe(3 * MiB);
  });

  it('ignores a missing volume when clearing and rejects bad options', async () => {
    expect(await driver.clearVolume(`/dev/${vg.name}/nope`, { volumeClear: 'shred' })).toEqual({ bytes: 0, missing: true });
    expect((await rejection(Promise.resolve().then(() => driver.clearVolume(vg.device, { volumeClear: 'dd' as 'zero' })))).code).toBe(
      'INVALID_ARGUMENT',
    );
    // Large enough that the shred is still running when the first progress report aborts it.
    const ac = new AbortController();
    const dev = await vg.scratchDevice(512 * MiB);
    const aborted = await rejection(driver.clearVolume(dev, { volumeClear: 'shred', signal: ac.signal, onProgress: () => ac.abort() }));
    expect(aborted.code).toBe('ABORTED');
  });
});

describe('LvmCliRunner', () => {
  it('runs lvm behind a root helper prefix, as argv', async () => {
    // `env NAME=value lvm ...` stands in for `sudo -n lvm ...`.
    const runner = new LvmCliRunner({ rootHelper: ['env', 'IMAGEBACKEND_HELPER=1'], devices: [vg.device] });
    const result = await runner.run(['vgs', '-o', 'vg_name', vg.name]);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(vg.name);
    const refused = await new Lvm2Driver(new LvmCliRunner({ rootHelper: ['false'] })).vgInfo(vg.name).catch((e: unknown) => e);
    expect((refused as ImageBackendError).code).toBe('LVM_FAILED');
    expect((refused as ImageBackendError).process?.exitCode).toBe(1);
  });

  it('fails with TOOL_NOT_FOUND when lvm2 is not installed', async () => {
    const error = await new LvmCliRunner({ lvm: 'lvm-not-installed' }).run(['vgs']).catch((e: unknown) => e);
    expect((error as ImageBackendError).code).toBe('TOOL_NOT_FOUND');
  });
});
