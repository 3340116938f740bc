// nova's Qcow2TestCase and the shared _ImageTestCase, one behaviour at a
// time, against real files, the native overlay writer and real qemu-img.
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Backend } from '../../../src/backends/Backend.js';
import type { Disk } from '../../../src/backends/Disk.js';
import { Qcow2Store } from '../../../src/backends/Qcow2Store.js';
import { cacheFileName } from '../../../src/cache/cacheFileName.js';
import { fallocateFile } from '../../../src/blockdev/fallocate.js';
import { DiskInfo } from '../../../src/diskinfo/DiskInfo.js';
import { FlavorDiskTooSmallError, ImageUnsafeError } from '../../../src/errors.js';
import { inspect } from '../../../src/image/inspect.js';
import { qemuImg, qemuInfo } from '../image/qemu.js';
import { tempDir } from '../helpers/system.js';
import { GiB, MiB, copyingFetch, qcow2WithBacking, qcow2WithDataFile, rawImage } from './helpers.js';

const UUID = '7f3c2b1a-0000-4000-8000-000000000001';
const IMAGE_ID = 'c9a1-image';
const FILENAME = cacheFileName(IMAGE_ID);

describe('Qcow2 (nova Qcow2TestCase)', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let instances: string;
  let source: string;
  let backend: Backend<'qcow2'>;
  let disk: Disk<Qcow2Store>;
  let base: string;
  let diskPath: string;

  beforeEach(async () => {
    ({ dir, remove } = await tempDir('qcow2'));
    instances = join(dir, 'instances');
    await mkdir(instances);
    source = await rawImage(dir, 'source.raw', 16 * MiB);
    backend = new Backend({ instancesPath: instances, imagesType: 'qcow2' });
    disk = backend.image({ uuid: UUID }, 'disk');
    base = join(instances, '_base', FILENAME);
    diskPath = join(instances, UUID, 'disk');
  });
  afterEach(() => remove());

  it('is the class of the qcow2 type, with nova paths', () => {
    expect(disk.store).toBeInstanceOf(Qcow2Store);
    expect(disk.path).toBe(diskPath);
    expect(disk.store.sourceType).toBe('file');
    expect(disk.store.driverFormat).toBe('qcow2');
    expect(disk.isFileInInstancePath()).toBe(true);
    expect(disk.isSharedBlockStorage()).toBe(false);
  });

  it('test_cache: creates the base folder, fetches the base once and writes an overlay on it', async () => {
    const { fetch, calls } = copyingFetch(source);
    const report = await disk.cache({ fetch, filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    expect(report).toMatchObject({ created: true, cloned: false, fetched: true, format: 'qcow2', virtualSize: 32 * MiB, base });
    expect(report.timings.total).toBeGreaterThan(0);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(new RegExp(`^${join(instances, '_base', FILENAME)}\\.part-`));
    const info = await qemuInfo(diskPath);
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(32 * MiB);
    expect(info['full-backing-filename']).toBe(base);
    expect(info['backing-filename-format']).toBe('raw');
    await qemuImg('check', '-f', 'qcow2', diskPath);
    expect(await readFile(join(instances, UUID, 'disk.info'), 'utf8')).toBe(`${JSON.stringify({ [diskPath]: 'qcow2' })}\n`);
  });

  it('qcow2.extendedL2 from the backend options reaches the overlay (incompatible feature bit 4) and qemu-img accepts it', async () => {
    const extended = new Backend({ instancesPath: instances, imagesType: 'qcow2', qcow2: { extendedL2: true } });
    const report = await extended.image({ uuid: UUID }, 'disk').cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    expect(report).toMatchObject({ created: true, format: 'qcow2', virtualSize: 32 * MiB });
    // The header itself: qcow2 v3, incompatible features (be64 at 72) with bit 4, extended L2 entries.
    const header = (await readFile(diskPath)).subarray(0, 104);
    expect(header.readUInt32BE(4)).toBe(3);
    expect(header.readBigUInt64BE(72) & (1n << 4n)).toBe(1n << 4n);
    expect((await qemuInfo(diskPath))['format-specific']?.data['extended-l2']).toBe(true);
    await qemuImg('check', '-f', 'qcow2', diskPath);

    // Without the option the bit stays clear (qemu-img create's default).
    const plain = backend.image({ uuid: '7f3c2b1a-0000-4000-8000-000000000002' }, 'disk');
    await plain.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID });
    expect((await readFile(plain.path)).readBigUInt64BE(72) & (1n << 4n)).toBe(0n);
    expect(() => new Backend({ instancesPath: instances, qcow2: { extendedL2: 'yes' as unknown as boolean } })).toThrow(/qcow2\.extendedL2/);
  });

  it('test_cache_image_exists: a disk and base that both exist are left alone, nothing fetched', async () => {
    const first = copyingFetch(source);
    await disk.cache({ fetch: first.fetch, filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    const before = await stat(diskPath);
    const second = copyingFetch(source);
    const report = await disk.cache({ fetch: second.fetch, filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    expect(second.calls).toEqual([]);
    expect(report).toMatchObject({ created: false, fetched: false, format: 'qcow2', virtualSize: 32 * MiB });
    expect((await stat(diskPath)).mtimeMs).toBe(before.mtimeMs);
  });

  it('test_cache_template_exists: a cached base is not fetched again; a second instance gets its own overlay', async () => {
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID });
    const other = backend.image({ uuid: 'other-instance' }, 'disk');
    const again = copyingFetch(source);
    await other.cache({ fetch: again.fetch, filename: FILENAME, imageId: IMAGE_ID });
    expect(again.calls).toEqual([]);
    expect((await qemuInfo(other.path))['full-backing-filename']).toBe(base);
    // Size 0/absent: the base's size.
    expect((await qemuInfo(other.path))['virtual-size']).toBe(16 * MiB);
  });

  it('test_create_image: size given, the overlay has it and the base is not modified', async () => {
    const baseBytes = await readFile(source);
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: GiB });
    expect((await inspect(diskPath)).virtualSize).toBe(GiB);
    expect((await readFile(base)).equals(baseBytes)).toBe(true);
  });

  it('test_create_image_too_small: FLAVOR_DISK_TOO_SMALL with both sizes, no disk created', async () => {
    const error = await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: MiB }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FlavorDiskTooSmallError);
    expect(error).toMatchObject({ code: 'FLAVOR_DISK_TOO_SMALL', baseSize: 16 * MiB, requestedSize: MiB });
    await expect(stat(diskPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a base with a backing file (IMAGE_UNSAFE) and creates nothing', async () => {
    const evil = await qcow2WithBacking(dir, 'evil.qcow2', '/etc/hostname');
    const error = await disk.cache({ ...copyingFetch(evil), filename: FILENAME, imageId: IMAGE_ID }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageUnsafeError);
    expect((error as ImageUnsafeError).code).toBe('IMAGE_UNSAFE');
    expect((error as ImageUnsafeError).reasons.join(' ')).toMatch(/backing/);
    await expect(stat(join(instances, UUID))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a base with an external data file (IMAGE_UNSAFE) and creates nothing', async () => {
    const evil = await qcow2WithDataFile(dir, 'datafile.qcow2');
    await expect(disk.cache({ ...copyingFetch(evil), filename: FILENAME, imageId: IMAGE_ID })).rejects.toMatchObject({ code: 'IMAGE_UNSAFE' });
    await expect(stat(diskPath)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('test_qcow2_exists_and_fails_safety_check: refused even when the disk exists, before the size check', async () => {
    await mkdir(join(instances, '_base'), { recursive: true });
    await mkdir(join(instances, UUID));
    await qemuImg('create', '-f', 'qcow2', diskPath, String(MiB));
    await qemuImg('create', '-f', 'qcow2', '-b', '/etc/hostname', '-F', 'raw', base);
    // size 1 would fail the size check; the safety check comes first.
    const never = async () => {
      throw new Error('the base is cached: no fetch');
    };
    await expect(disk.cache({ fetch: never, filename: FILENAME, imageId: IMAGE_ID, size: 1 })).rejects.toMatchObject({ code: 'IMAGE_UNSAFE' });
    // A base this call did not download stays (the cache manager's to judge).
    await stat(base);
  });

  it('test_generate_resized_backing_files: a disk backed by a legacy <base>_<GiB> gets that file recreated and grown', async () => {
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID });
    const legacy = `${base}_1`;
    // A disk written by an old nova: its backing file is the resized copy, since removed.
    await qemuImg('create', '-f', 'raw', legacy, String(GiB));
    await qemuImg('rebase', '-u', '-f', 'qcow2', '-b', legacy, '-F', 'raw', diskPath);
    await (await import('node:fs/promises')).rm(legacy);
    const { fetch, calls } = copyingFetch(source);
    const report = await disk.cache({ fetch, filename: FILENAME, imageId: IMAGE_ID, size: 2 * GiB });
    // The base is cached: not fetched again; the legacy copy is made from it.
    expect(calls).toEqual([]);
    expect(report).toMatchObject({ created: false, fetched: false, base });
    const info = await qemuInfo(legacy);
    expect(info.format).toBe('raw');
    expect(info['virtual-size']).toBe(GiB);
    // The copy holds the base's bytes.
    expect((await readFile(legacy)).subarray(0, 512).equals((await readFile(base)).subarray(0, 512))).toBe(true);
    await qemuImg('check', '-f', 'qcow2', diskPath);
  });

  it('test_qcow2_exists_and_has_no_backing_file: an existing disk without a backing file is left alone', async () => {
    await mkdir(join(instances, UUID), { recursive: true });
    await qemuImg('create', '-f', 'qcow2', diskPath, String(8 * MiB));
    const before = await readFile(diskPath);
    const report = await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID });
    expect(report).toMatchObject({ created: false, fetched: true });
    expect((await readFile(diskPath)).equals(before)).toBe(true);
    expect(await readdir(join(instances, '_base'))).toEqual([FILENAME]);
  });

  it('test_resolve_driver_format: qcow2, never probed, and recorded', async () => {
    expect(await disk.resolveDriverFormat()).toBe('qcow2');
    expect(await DiskInfo.forInstance(join(instances, UUID)).readFormat(diskPath)).toBe('qcow2');
  });

  it('test_get_disk_size: the virtual size from the header', async () => {
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 64 * MiB });
    expect(await disk.size()).toBe(64 * MiB);
    expect((await inspect(base)).virtualSize).toBe(16 * MiB);
  });

  it('grows an existing disk when a later cache asks for more (resize_image), never shrinks', async () => {
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 48 * MiB });
    expect((await qemuInfo(diskPath))['virtual-size']).toBe(48 * MiB);
    expect(await disk.grow(20 * MiB)).toBe(false);
    expect((await qemuInfo(diskPath))['virtual-size']).toBe(48 * MiB);
  });

  it('test_prealloc_image: the filesystem probed once per class, the disk fallocated on every cache', async () => {
    const calls: Array<[string, number, boolean | undefined]> = [];
    const spying = new Backend({
      instancesPath: instances,
      imagesType: 'qcow2',
      preallocateImages: 'space',
      tools: {
        fallocateFile: async (path, options) => {
          calls.push([path, options.size, options.keepSize]);
          await fallocateFile(path, options);
        },
      },
    });
    const image = spying.image({ uuid: UUID }, 'disk');
    expect(image.store.driverIo).toBe('native');
    await image.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    await image.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    expect(calls).toEqual([
      [`${diskPath}.fallocate_test`, 1, undefined],
      [diskPath, 32 * MiB, true],
      [diskPath, 32 * MiB, true],
    ]);
    expect((await stat(diskPath)).blocks * 512).toBeGreaterThanOrEqual(32 * MiB);
    await expect(stat(`${diskPath}.fallocate_test`)).rejects.toMatchObject({ code: 'ENOENT' });
    await qemuImg('check', '-f', 'qcow2', diskPath);
    const xml = (await image.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', cacheMode: 'none' })).toXml();
    expect(xml).toContain('io="native"');
  });

  it('test_prealloc_image_without_write_access: no fallocate when the disk is not writable', async () => {
    const calls: string[] = [];
    const readOnly = new Backend({
      instancesPath: instances,
      imagesType: 'qcow2',
      preallocateImages: 'space',
      tools: { isWritable: async () => false, fallocateFile: async (path) => void calls.push(path) },
    });
    await readOnly.image({ uuid: UUID }, 'disk').cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    expect(calls.filter((p) => !p.endsWith('.fallocate_test'))).toEqual([]);
  });

  it('snapshotExtract: the disk (overlay plus base) converted to a standalone image', async () => {
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    const target = join(dir, 'snap.qcow2');
    await disk.snapshotExtract(target, 'qcow2');
    const info = await qemuInfo(target);
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(32 * MiB);
    expect(info['backing-filename']).toBeUndefined();
    const raw = join(dir, 'snap.raw');
    await disk.snapshotExtract(raw, 'raw');
    expect((await readFile(raw)).subarray(0, 512).equals((await readFile(source)).subarray(0, 512))).toBe(true);
  });
});
