// The LVM data path: a base written onto a device (native copy for raw,
// qemu-img for qcow2), the ext file system grown with e2fsck + resize2fs,
// and the volume removed when anything fails. Without device-mapper the
// volumes have no device node, so the data steps run on loop devices and the
// provisioning runs up to the write, whose failure must remove the volume.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Lvm2Driver } from '../../src/lvm/Lvm2Driver.js';
import { growFilesystem } from '../../src/blockdev/grow-filesystem.js';
import { deleteVolumes, provisionFromBase, provisionGenerated, writeBase } from '../../src/lvm/provision.js';
import { sparseFile } from '../helpers/files.js';
import { createTestVolumeGroup, requireLvmTools, type TestVolumeGroup } from '../helpers/lvm.js';
import { RUNNERS } from '../helpers/lvm-runners.js';
import { sameBytes } from '../unit/helpers/system.js';
import { rejection } from '../helpers/assert.js';

const MiB = 1 << 20;
let vg: TestVolumeGroup;

beforeAll(async () => {
  requireLvmTools('LVM provisioning tests');
  vg = await createTestVolumeGroup(256 * MiB);
  process.stderr.write(
    `[lvm] provisioning mode: ${vg.activation ? 'device-mapper: full path on volumes' : 'no device-mapper (activation=0): data path on loop devices, provisioning up to the write'}\n`,
  );
});

afterAll(async () => {
  await vg?.destroy();
});

/** A raw image of `size` bytes holding an ext4 file system with one file. */
function ext4Image(path: string, size: number): void {
  execFileSync('truncate', ['-s', String(size), path]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'ibtest', path]);
}

function blockCount(path: string): number {
  const out = execFileSync('dumpe2fs', ['-h', path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const count = Number(/^Block count:\s+(\d+)/m.exec(out)?.[1]);
  const size = Number(/^Block size:\s+(\d+)/m.exec(out)?.[1]);
  return count * size;
}

describe('the data path on loop devices', () => {
  it('writes a raw base onto a device, zeroing what the device held in its holes', async () => {
    const dev = await vg.scratchDevice(32 * MiB);
    execFileSync('dd', ['if=/dev/urandom', `of=${dev}`, 'bs=1M', 'count=32', 'status=none']);
    const base = join(vg.dir, 'base.raw');
    await sparseFile(base, 24 * MiB, [[0, MiB], [20 * MiB, 12345]]);
    const events: number[] = [];
    await writeBase({ path: base, format: 'raw' }, dev, { onProgress: (d) => events.push(d) });
    expect(sameBytes(base, dev, 24 * MiB)).toBe(true);
    expect(events.at(-1)).toBe(24 * MiB);
  });

  it('writes a qcow2 base onto a device with qemu-img convert', async () => {
    const dev = await vg.scratchDevice(32 * MiB);
    const raw = join(vg.dir, 'q.raw');
    await sparseFile(raw, 16 * MiB, [[MiB, 2 * MiB]]);
    const qcow2 = join(vg.dir, 'q.qcow2');
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
    const events: number[] = [];
    await writeBase({ path: qcow2, format: 'qcow2' }, dev, { onProgress: (d, t) => (expect(t).toBe(16 * MiB), events.push(d)) });
    expect(sameBytes(raw, dev, 16 * MiB)).toBe(true);
    expect(events.at(-1)).toBe(16 * MiB);
  });

  it('grows an ext4 file system to fill a larger device', async () => {
    const base = join(vg.dir, 'fs.raw');
    ext4Image(base, 16 * MiB);
    const dev = await vg.scratchDevice(48 * MiB);
    await writeBase({ path: base, format: 'raw' }, dev);
    expect(blockCount(dev)).toBe(16 * MiB);
    expect(await growFilesystem(dev)).toEqual({ grown: true });
    expect(blockCount(dev)).toBe(48 * MiB);
    execFileSync('e2fsck', ['-fn', dev], { stdio: 'ignore' }); // clean after the resize
  });

  it('leaves a disk without an ext file system alone, and skips a broken one as nova does', async () => {
    const plain = await vg.scratchDevice(8 * MiB);
    expect(await growFilesystem(plain)).toEqual({ grown: false, reason: 'no ext2/3/4 file system at the start of the disk' });
    const broken = join(vg.dir, 'broken.raw');
    ext4Image(broken, 8 * MiB);
    // Random bytes over the group descriptors and bitmaps after the superblock.
    execFileSync('dd', ['if=/dev/urandom', `of=${broken}`, 'bs=1024', 'seek=2', 'count=64', 'conv=notrunc', 'status=none']);
    const result = await growFilesystem(broken);
    expect(result.grown).toBe(false);
    expect(result.reason).toMatch(/e2fsck -fp ended with exit status \d/);
  });
});

describe.each(RUNNERS)('provisioning over the $name runner', ({ make }) => {
  let driver: Lvm2Driver;

  beforeAll(() => {
    driver = new Lvm2Driver(make({ devices: [vg.device] }));
  });

  afterAll(async () => {
    await driver?.close();
  });

  it('refuses a disk smaller than its base before creating anything', async () => {
    const base = join(vg.dir, `small-${driver.runnerKind}.raw`);
    await sparseFile(base, 16 * MiB, []);
    const error = await rejection(
      provisionFromBase({ driver, volumeGroup: vg.name, logicalVolume: `${driver.runnerKind}_small`, size: 8 * MiB, base: { path: base, format: 'raw' } }),
    );
    expect(error.code).toBe('FLAVOR_DISK_TOO_SMALL');
    expect(await driver.listVolumes(vg.name)).not.toContain(`${driver.runnerKind}_small`);
  });

  it('provisions from a base (with device-mapper: writes, grows, wipes, removes; without: removes the volume when the write fails)', async () => {
    const lv = `${driver.runnerKind}_disk`;
    const base = join(vg.dir, `fs-${driver.runnerKind}.raw`);
    ext4Image(base, 16 * MiB);
    const options = { driver, volumeGroup: vg.name, logicalVolume: lv, size: 40 * MiB, base: { path: base, format: 'raw' } };
    if (!vg.activation) {
      // The volume is created, but without device-mapper it has no device node.
      const error = await rejection(provisionFromBase(options));
      expect(error.code).toBe('DISK_NOT_FOUND');
      expect(error.path).toBe(`/dev/${vg.name}/${lv}`);
      expect(await driver.listVolumes(vg.name)).not.toContain(lv);
      return;
    }
    const { volume, filesystem } = await provisionFromBase(options);
    expect(volume.size).toBe(40 * MiB);
    expect(filesystem).toEqual({ grown: true });
    expect(blockCount(volume.path)).toBe(40 * MiB);
    await deleteVolumes(driver, [volume.path], { volumeClear: 'zero' });
    expect(await driver.listVolumes(vg.name)).not.toContain(lv);
  });

  it('removes a generated disk whose writer fails, keeping its error', async () => {
    const lv = `${driver.runnerKind}_eph`;
    let seen = '';
    const boom = new Error('mkfs failed');
    const error = await provisionGenerated({
      driver,
      volumeGroup: vg.name,
      logicalVolume: lv,
      size: 8 * MiB,
      write: async (path) => {
        seen = path;
        expect(await driver.listVolumes(vg.name)).toContain(lv);
        throw boom;
      },
    }).catch((e: unknown) => e);
    expect(error).toBe(boom);
    expect(seen).toBe(`/dev/${vg.name}/${lv}`);
    expect(await driver.listVolumes(vg.name)).not.toContain(lv);
  });

  it('deletes volumes with wiping (a volume without a device node is removed unwiped)', async () => {
    const v = await driver.createVolume(vg.name, `${driver.runnerKind}_del`, 4 * MiB);
    await deleteVolumes(driver, [v.path], { volumeClear: 'shred', volumeClearSizeMiB: 1 });
    expect(await driver.listVolumes(vg.name)).not.toContain(`${driver.runnerKind}_del`);
  });
});
