// nova's FlatTestCase and the shared _ImageTestCase against real files and
// real qemu-img, plus the format-change attack at the Image level.
import { mkdir, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { Backend } from '../../../src/backends/Backend.js';
import type { Disk } from '../../../src/backends/Disk.js';
import { canClone, canDirectSnapshot, canImportFile, canSnapshot } from '../../../src/backends/DiskStore.js';
import { FlatStore } from '../../../src/backends/FlatStore.js';
import { cacheFileName } from '../../../src/cache/cacheFileName.js';
import { DiskInfo } from '../../../src/diskinfo/DiskInfo.js';
import { FlavorDiskTooSmallError } from '../../../src/errors.js';
import { inspect } from '../../../src/image/inspect.js';
import { compileLibrary } from '../helpers/compiled.js';
import { tempDir } from '../helpers/system.js';
import { qemuImg, qemuInfo, run } from '../image/qemu.js';
import { MiB, copyingFetch, generatingFetch, qcow2WithBacking, rawImage } from './helpers.js';

const UUID = '0b8e7c55-0000-4000-8000-000000000002';
const IMAGE_ID = 'flat-image';
const FILENAME = cacheFileName(IMAGE_ID);

describe('Flat (nova FlatTestCase)', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let instances: string;
  let source: string;
  let backend: Backend<'raw'>;
  let disk: Disk<FlatStore>;
  let diskPath: string;
  let base: string;

  beforeEach(async () => {
    ({ dir, remove } = await tempDir('flat'));
    instances = join(dir, 'instances');
    source = await rawImage(dir, 'source.raw', 16 * MiB);
    backend = new Backend({ instancesPath: instances, imagesType: 'raw' });
    disk = backend.image({ uuid: UUID }, 'disk');
    diskPath = join(instances, UUID, 'disk');
    base = join(instances, '_base', FILENAME);
  });
  afterEach(() => remove());

  it('is the class of raw and flat, a file in the instance folder', () => {
    expect(disk.store).toBeInstanceOf(FlatStore);
    expect(backend.image({ uuid: UUID }, 'disk', 'flat').store).toBeInstanceOf(FlatStore);
    expect(disk.path).toBe(diskPath);
    expect(disk.store.driverFormat).toBe('raw');
    expect(disk.isFileInInstancePath()).toBe(true);
  });

  it('test_cache / test_create_image: base fetched once into _base, copied, extended to the size', async () => {
    const { fetch, calls } = copyingFetch(source);
    const report = await disk.cache({ fetch, filename: FILENAME, imageId: IMAGE_ID, size: 64 * MiB });
    expect(calls).toHaveLength(1);
    expect(report).toMatchObject({ created: true, cloned: false, fetched: true, format: 'raw', virtualSize: 64 * MiB, base });
    expect((await stat(base)).size).toBe(16 * MiB);
    const info = await qemuInfo(diskPath);
    expect(info.format).toBe('raw');
    expect(info['virtual-size']).toBe(64 * MiB);
    expect((await readFile(diskPath)).subarray(0, 512).equals((await readFile(source)).subarray(0, 512))).toBe(true);
    // Sparse: the copy did not write the holes.
    expect((await stat(diskPath)).blocks * 512).toBeLessThan(4 * MiB);
    expect(await DiskInfo.forInstance(join(instances, UUID)).readFormat(diskPath)).toBe('raw');
  });

  it('cache with clone: a backend that cannot clone fetches as usual; neverDownload refuses; clone needs an imageId', async () => {
    await expect(
      disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, clone: { neverDownload: true } }),
    ).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' });
    await expect(stat(diskPath)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(disk.cache({ ...copyingFetch(source), filename: FILENAME, clone: {} })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const { fetch, calls } = copyingFetch(source);
    await disk.cache({ fetch, filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB, clone: { context: {} } });
    expect(calls).toHaveLength(1);
    expect((await qemuInfo(diskPath))['virtual-size']).toBe(32 * MiB);
  });

  it('test_cache_image_exists: nothing fetched or copied when disk and base exist', async () => {
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID });
    await writeFile(diskPath, 'guest data', { flag: 'r+' });
    const again = copyingFetch(source);
    await disk.cache({ fetch: again.fetch, filename: FILENAME, imageId: IMAGE_ID });
    expect(again.calls).toEqual([]);
    expect((await readFile(diskPath)).subarray(0, 10).toString()).toBe('guest data');
  });

  it('test_cache_template_exists: a cached base is copied without fetching', async () => {
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID });
    const other = backend.image({ uuid: 'second' }, 'disk');
    const again = copyingFetch(source);
    await other.cache({ fetch: again.fetch, filename: FILENAME, imageId: IMAGE_ID });
    expect(again.calls).toEqual([]);
    expect((await stat(other.path)).size).toBe(16 * MiB);
  });

  it('test_create_image_generated: no image id, the disk is generated in place, nothing in _base', async () => {
    const { fetch, calls } = generatingFetch(8 * MiB);
    const eph = backend.image({ uuid: UUID }, 'disk.eph0');
    await eph.cache({ fetch, filename: 'ephemeral_8_abcdef0', size: 8 * MiB, ephemeralSize: 8 * MiB });
    // Written in the instance folder under a temporary name, then given the disk's name (crash-safe).
    expect(calls).toHaveLength(1);
    expect(dirname(calls[0] as string)).toBe(dirname(eph.path));
    expect(await readdir(dirname(eph.path))).toEqual(['disk.eph0', 'disk.info'].sort());
    expect((await stat(eph.path)).size).toBe(8 * MiB);
    await expect(stat(join(instances, '_base', 'ephemeral_8_abcdef0'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('test_cache_generating_resize (bug 1608934): a generated disk is never sized against a base that does not exist', async () => {
    let sized = 0;
    const counting = new Backend({
      instancesPath: instances,
      imagesType: 'raw',
      tools: {
        inspect: async (path, options) => {
          sized++;
          return inspect(path, options);
        },
      },
    });
    const eph = counting.image({ uuid: UUID }, 'disk.eph0');
    const report = await eph.cache({ ...generatingFetch(8 * MiB), filename: 'ephemeral_8_abcdef0', size: 16 * MiB });
    expect(sized).toBe(0);
    expect(report).toMatchObject({ created: true, fetched: true, base: undefined, format: 'raw', virtualSize: 8 * MiB });
    // nova resizes only from a base; the generated disk keeps the size the fetch gave it.
    expect((await stat(eph.path)).size).toBe(8 * MiB);
  });

  it('test_create_image_extend: an existing generated disk is grown when created again with a size', async () => {
    const eph = backend.image({ uuid: UUID }, 'disk.eph0');
    await eph.cache({ ...generatingFetch(8 * MiB), filename: 'ephemeral_8_abcdef0' });
    const report = await eph.cache({
      filename: 'ephemeral_8_abcdef0',
      size: 24 * MiB,
      fetch: async () => {
        throw new Error('must not regenerate');
      },
    });
    expect((await stat(eph.path)).size).toBe(24 * MiB);
    expect(report).toMatchObject({ created: false, fetched: false, virtualSize: 24 * MiB });
  });

  it("nova master's disk.extend: a raw base holding a whole-disk ext4 file system is copied, and the file and the file system grown", async () => {
    const ext4 = join(dir, 'ext4.raw');
    await writeFile(ext4, '');
    await run('truncate', ['-s', String(16 * MiB), ext4], 'coreutils');
    await run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-L', 'cloudimg-rootfs', ext4], 'e2fsprogs');
    const report = await disk.cache({ ...copyingFetch(ext4), filename: FILENAME, imageId: IMAGE_ID, size: 64 * MiB });
    expect(report).toMatchObject({ created: true, format: 'raw', virtualSize: 64 * MiB });
    expect((await stat(diskPath)).size).toBe(64 * MiB);
    expect(await filesystemBytes(diskPath)).toBe(64 * MiB);
    // e2fsck -fn: read-only, exit status 0 only for a clean file system.
    await run('e2fsck', ['-fn', diskPath], 'e2fsprogs');
    // The base in _base is untouched.
    expect(await filesystemBytes(base)).toBe(16 * MiB);

    // An existing disk grown by a later cache (nova's resize_image) gets its file system grown again.
    expect(await disk.cache({ ...copyingFetch(ext4), filename: FILENAME, imageId: IMAGE_ID, size: 96 * MiB })).toMatchObject({ created: false });
    expect(await filesystemBytes(diskPath)).toBe(96 * MiB);
    await run('e2fsck', ['-fn', diskPath], 'e2fsprogs');
  });

  it('disk.extend leaves alone what nova leaves alone: a partitioned raw disk and a qcow2 Flat disk grow, their file systems do not', async () => {
    // An MBR with one partition holding ext4 at 1 MiB: nova's e2label test fails on the whole disk.
    const parted = join(dir, 'parted.raw');
    const part = join(dir, 'part.ext4');
    await writeFile(part, '');
    await run('truncate', ['-s', String(15 * MiB), part], 'coreutils');
    await run('mkfs.ext4', ['-q', '-F', '-b', '4096', part], 'e2fsprogs');
    const image = Buffer.alloc(16 * MiB);
    (await readFile(part)).copy(image, MiB);
    image.writeUInt8(0x83, 446 + 4);
    image.writeUInt32LE(2048, 446 + 8);
    image.writeUInt32LE(15 * 2048, 446 + 12);
    image.writeUInt16LE(0xaa55, 510);
    await writeFile(parted, image);
    await disk.cache({ ...copyingFetch(parted), filename: FILENAME, imageId: IMAGE_ID, size: 64 * MiB });
    expect((await stat(diskPath)).size).toBe(64 * MiB);
    expect((await readFile(diskPath)).subarray(0, 16 * MiB).equals(image)).toBe(true);

    // A qcow2 base makes a qcow2 Flat disk: qemu-img resize only (nova: resize_fs_using_block_device is off).
    const ext4 = join(dir, 'ext4.raw');
    await writeFile(ext4, '');
    await run('truncate', ['-s', String(16 * MiB), ext4], 'coreutils');
    await run('mkfs.ext4', ['-q', '-F', '-b', '4096', ext4], 'e2fsprogs');
    const qcow2 = join(dir, 'ext4.qcow2');
    await qemuImg('convert', '-f', 'raw', '-O', 'qcow2', ext4, qcow2);
    const other = backend.image({ uuid: '0b8e7c55-0000-4000-8000-000000000003' }, 'disk');
    await other.cache({ ...copyingFetch(qcow2), filename: cacheFileName('ext4-qcow2'), imageId: 'ext4-qcow2', size: 64 * MiB });
    expect((await qemuInfo(other.path))['virtual-size']).toBe(64 * MiB);
    const back = join(dir, 'back.raw');
    await qemuImg('convert', '-f', 'qcow2', '-O', 'raw', other.path, back);
    expect(await filesystemBytes(back)).toBe(16 * MiB);
  });

  it('removes a half-generated disk when the generating fetch fails', async () => {
    const eph = backend.image({ uuid: UUID }, 'disk.eph0');
    const fetch = async ({ target }: { target: string }) => {
      await writeFile(target, 'half');
      throw new Error('mkfs failed');
    };
    await expect(eph.cache({ fetch, filename: 'ephemeral_8_abcdef0' })).rejects.toThrow('mkfs failed');
    await expect(stat(eph.path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('FLAVOR_DISK_TOO_SMALL before any copy', async () => {
    const error = await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 4 * MiB }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlavorDiskTooSmallError);
    await expect(stat(diskPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses an unsafe base (backing file) with IMAGE_UNSAFE, nothing copied', async () => {
    const evil = await qcow2WithBacking(dir, 'evil.qcow2', '/etc/hostname');
    await expect(disk.cache({ ...copyingFetch(evil), filename: FILENAME, imageId: IMAGE_ID })).rejects.toMatchObject({ code: 'IMAGE_UNSAFE' });
    await expect(stat(diskPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('test_correct_format: a disk that really is qcow2 (copied from a qcow2 base) resolves to qcow2 and is grown with qemu-img', async () => {
    const q = join(dir, 'source.qcow2');
    await qemuImg('convert', '-f', 'raw', '-O', 'qcow2', source, q);
    await disk.cache({ ...copyingFetch(q), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    expect(await disk.resolveDriverFormat()).toBe('qcow2');
    const info = await qemuInfo(diskPath);
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(32 * MiB);
    const xml = (await disk.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda' })).toXml();
    expect(xml).toContain('type="qcow2"');
  });

  it('test_resolve_driver_format: raw when the header cannot be read', async () => {
    await mkdir(join(instances, UUID), { recursive: true });
    // A qcow2 magic with a nonsense header: inspection fails as IMAGE_INVALID.
    const fh = await open(diskPath, 'w');
    const header = Buffer.alloc(4096);
    header.write('QFI\xfb', 0, 'latin1');
    header.writeUInt32BE(3, 4);
    header.writeUInt32BE(99, 20); // cluster_bits out of range
    await fh.write(header);
    await fh.close();
    await expect(inspect(diskPath)).rejects.toMatchObject({ code: 'IMAGE_INVALID' });
    expect(await disk.resolveDriverFormat()).toBe('raw');
  });

  it('snapshotExtract converts from the recorded format', async () => {
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    const target = join(dir, 'snap.qcow2');
    await disk.snapshotExtract(target, 'qcow2');
    expect(await qemuInfo(target)).toMatchObject({ format: 'qcow2', 'virtual-size': 32 * MiB });
    await qemuImg('compare', '-f', 'raw', '-F', 'qcow2', diskPath, target);
  });

  it('has no clone, snapshot, direct-snapshot or import capability (detected by type, no stubs)', () => {
    expect(canClone(disk.store)).toBe(false);
    expect(canSnapshot(disk.store)).toBe(false);
    expect(canDirectSnapshot(disk.store)).toBe(false);
    expect(canImportFile(disk.store)).toBe(false);
    expect('clone' in disk.store || 'createSnap' in disk.store || 'directSnapshot' in disk.store).toBe(false);
  });
});

describe('the format-change attack at the disk level (nova bug 1221190)', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let dist: string;
  let cleanupDist: () => Promise<void>;
  beforeAll(async () => ({ dist, cleanup: cleanupDist } = await compileLibrary()), 120_000);
  afterAll(() => cleanupDist?.());
  beforeEach(async () => ({ dir, remove } = await tempDir('attack')));
  afterEach(() => remove());

  it('a raw disk whose guest writes a qcow2 header still resolves to raw, here and in a new process', async () => {
    const instances = join(dir, 'instances');
    const source = await rawImage(dir, 'source.raw', 16 * MiB);
    const backend = new Backend({ instancesPath: instances, useCowImages: false });
    const disk = backend.image({ uuid: UUID }, 'disk');
    expect(disk.store).toBeInstanceOf(FlatStore);
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    expect(await disk.resolveDriverFormat()).toBe('raw');

    // The guest writes a qcow2 header pointing at a host file over its disk's first sector.
    const evil = await qcow2WithBacking(dir, 'evil.qcow2', '/etc/shadow');
    const header = (await readFile(evil)).subarray(0, 65536);
    const fh = await open(disk.path, 'r+');
    await fh.write(header, 0, header.length, 0);
    await fh.close();
    expect((await inspect(disk.path)).format).toBe('qcow2');

    // Same process, a fresh Image object for the same disk, and the path libvirt knows.
    expect(await backend.image({ uuid: UUID }, 'disk').resolveDriverFormat()).toBe('raw');
    expect(await backend.disk(disk.path, 'raw').resolveDriverFormat()).toBe('raw');
    const xml = (await backend.image({ uuid: UUID }, 'disk').libvirtInfo({ diskBus: 'virtio', diskDev: 'vda' })).toXml();
    expect(xml).toContain('type="raw"');

    // A new process (a restarted compute agent).
    const script = [
      `const { Backend } = await import(${JSON.stringify(join(dist, 'index.js'))});`,
      `const b = new Backend({ instancesPath: ${JSON.stringify(instances)}, useCowImages: false });`,
      `process.stdout.write(await b.image({ uuid: ${JSON.stringify(UUID)} }, 'disk').resolveDriverFormat());`,
    ].join('\n');
    expect(await run(process.execPath, ['--input-type=module', '-e', script])).toBe('raw');

    // The snapshot of the attacked disk reads it as raw: no host file is pulled in.
    const snap = join(dir, 'snap.raw');
    await disk.snapshotExtract(snap, 'raw');
    expect((await stat(snap)).size).toBe(32 * MiB);
    expect((await readFile(snap)).subarray(0, 4).toString('latin1')).toBe('QFI\xfb');
    await rm(snap);
  });
});

/** Block count × block size of the ext file system at the start of `path`, as `dumpe2fs -h` reports it. */
async function filesystemBytes(path: string): Promise<number> {
  const out = await run('dumpe2fs', ['-h', path], 'e2fsprogs');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(out)?.[1]);
  return field('Block count') * field('Block size');
}
