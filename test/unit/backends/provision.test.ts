// The provisioning policy against real files, real qemu-img and a real full
// filesystem: what is left behind when something fails (issue 13), modes
// whatever the umask, one inspection of the base, injected tools used and
// nothing real behind their back, the report, and the libvirt details of
// issue 12 (io with cache modes, rbd auth).
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { Backend } from '../../../src/backends/Backend.js';
import type { RbdStoreDriver, StoreConvertOptions } from '../../../src/backends/types.js';
import { copyRawData } from '../../../src/blockdev/copy.js';
import { cacheFileName } from '../../../src/cache/cacheFileName.js';
import { DiskInfo } from '../../../src/diskinfo/DiskInfo.js';
import { inspect } from '../../../src/image/inspect.js';
import type { CreatedVolume, LvmDriver } from '../../../src/lvm/LvmDriver.js';
import { LvmNotFoundError, RbdNotFoundError } from '../../../src/errors.js';
import { QemuImg } from '../../../src/qemu/QemuImg.js';
import { requireRoot, tempDir } from '../helpers/system.js';
import { qemuImg, qemuInfo } from '../image/qemu.js';
import { MiB, copyingFetch, generatingFetch, qcow2WithBacking, rawImage } from './helpers.js';

const UUID = '9a7b6c5d-0000-4000-8000-000000000005';
const IMAGE_ID = 'policy-image';
const FILENAME = cacheFileName(IMAGE_ID);

describe('provision(): nothing lost, nothing left', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let instances: string;
  let source: string;
  beforeEach(async () => {
    ({ dir, remove } = await tempDir('policy'));
    instances = join(dir, 'instances');
    source = await rawImage(dir, 'source.raw', 16 * MiB);
  });
  afterEach(() => remove());

  for (const type of ['raw', 'qcow2'] as const) {
    it(`${type}: a base this call downloaded and refused as unsafe or invalid is removed from _base`, async () => {
      const backend = new Backend({ instancesPath: instances, imagesType: type });
      const evil = await qcow2WithBacking(dir, 'evil.qcow2', '/etc/hostname');
      const disk = backend.image({ uuid: UUID }, 'disk');
      await expect(disk.cache({ ...copyingFetch(evil), filename: FILENAME, imageId: IMAGE_ID })).rejects.toMatchObject({ code: 'IMAGE_UNSAFE' });
      expect(await readdir(join(instances, '_base'))).toEqual([]);
      await expect(stat(join(instances, UUID))).rejects.toMatchObject({ code: 'ENOENT' });

      // A header that claims qcow2 and is nonsense: IMAGE_INVALID, removed too.
      const broken = join(dir, 'broken.qcow2');
      const header = Buffer.alloc(4096);
      header.write('QFI\xfb', 0, 'latin1');
      header.writeUInt32BE(3, 4);
      header.writeUInt32BE(99, 20);
      await writeFile(broken, header);
      await expect(disk.cache({ ...copyingFetch(broken), filename: FILENAME, imageId: IMAGE_ID })).rejects.toMatchObject({ code: 'IMAGE_INVALID' });
      expect(await readdir(join(instances, '_base'))).toEqual([]);

      // Then the good image is fetched under the same name and used.
      const report = await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID });
      expect(report).toMatchObject({ created: true, fetched: true });
    });
  }

  for (const type of ['raw', 'qcow2'] as const) {
    it(`${type}: a fetched base the inspector calls raw and qemu-img probes as another format is refused and removed`, async () => {
      // Every format qemu-img writes is known to the inspector; what qemu
      // still reads differently is dmg, which it probes by the file name
      // alone. The base is plain bytes the inspector calls raw and safe.
      const filename = `${FILENAME}.dmg`;
      const backend = new Backend({ instancesPath: instances, imagesType: type });
      const disk = backend.image({ uuid: UUID }, 'disk');
      expect((await inspect(source)).safety).toEqual({ safe: true, reasons: [] });
      const refused = disk.cache({ ...copyingFetch(source), filename, imageId: IMAGE_ID });
      await expect(refused).rejects.toMatchObject({ code: 'IMAGE_UNSAFE' });
      await expect(refused).rejects.toThrow(/qemu-img/);
      expect(await readdir(join(instances, '_base'))).toEqual([]);
      await expect(stat(join(instances, UUID))).rejects.toMatchObject({ code: 'ENOENT' });

      // A base the caller vouches for (nova's safe=True) is not probed: the same bytes are used.
      const report = await disk.cache({ ...copyingFetch(source), filename, imageId: IMAGE_ID, safe: true });
      expect(report).toMatchObject({ created: true, fetched: true });
      // Under an ordinary name the same bytes pass the probe too.
      const other = backend.image({ uuid: '9a7b6c5d-0000-4000-8000-000000000006' }, 'disk');
      expect(await other.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID })).toMatchObject({ created: true, fetched: true });
    });
  }

  it('raw: a copy that fails half-way leaves no disk, no temporary file and no disk.info entry', async () => {
    const backend = new Backend({
      instancesPath: instances,
      imagesType: 'raw',
      tools: {
        copyRawData: async (src, dst, options) => {
          await copyRawData(src, dst, options);
          throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
        },
      },
    });
    const disk = backend.image({ uuid: UUID }, 'disk');
    await expect(disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB })).rejects.toThrow(/EIO/);
    expect(await readdir(join(instances, UUID))).toEqual([]);
    expect(await disk.exists()).toBe(false);
    expect(await DiskInfo.forInstance(join(instances, UUID)).read()).toEqual({});
  });

  it('raw: remove() drops the disk and its disk.info entry, so a new disk at the path gets its own format', async () => {
    const backend = new Backend({ instancesPath: instances, imagesType: 'raw' });
    const qcow2Source = join(dir, 'source.qcow2');
    await qemuImg('convert', '-f', 'raw', '-O', 'qcow2', source, qcow2Source);
    const disk = backend.image({ uuid: UUID }, 'disk');
    const other = backend.image({ uuid: UUID }, 'disk.local', 'raw');
    await other.cache({ ...generatingFetch(MiB), filename: 'ephemeral_1_x' });
    expect((await disk.cache({ ...copyingFetch(qcow2Source), filename: cacheFileName('q'), imageId: 'q' })).format).toBe('qcow2');
    await disk.remove();
    expect(await disk.exists()).toBe(false);
    // Only the disk: the other disk and its entry stay.
    expect(await DiskInfo.forInstance(join(instances, UUID)).read()).toEqual({ [other.path]: 'raw' });
    expect(await other.exists()).toBe(true);
    const report = await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID });
    expect(report.format).toBe('raw');
    expect(await disk.resolveDriverFormat()).toBe('raw');
    await disk.remove();
    await disk.remove(); // already gone: not an error
  });

  it('refuses instance and disk names of 256+ characters up front (INVALID_ARGUMENT), leaving no folder', async () => {
    const backend = new Backend({ instancesPath: instances, imagesType: 'raw' });
    expect(() => backend.image({ uuid: 'u'.repeat(256) }, 'disk')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => backend.image({ uuid: UUID }, 'd'.repeat(256))).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => backend.image({ uuid: UUID }, 'd'.repeat(256), 'qcow2')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    await expect(stat(instances)).rejects.toMatchObject({ code: 'ENOENT' });
    // 255 is a valid file name: the disk is made (its temporary name is short whatever the disk's name).
    const long = backend.image({ uuid: UUID }, 'd'.repeat(255));
    await long.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID });
    expect(await long.exists()).toBe(true);
  });

  it('gives folders 0755 and disks and disk.info 0644 whatever the process umask (lvm2 sets 077)', async () => {
    const previous = process.umask(0o077);
    try {
      for (const type of ['raw', 'qcow2'] as const) {
        const backend = new Backend({ instancesPath: join(instances, type), imagesType: type });
        const disk = backend.image({ uuid: UUID }, 'disk');
        await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
        const eph = backend.image({ uuid: UUID }, 'disk.eph0');
        await eph.cache({ ...generatingFetch(MiB), filename: 'ephemeral_1_abc' });
        expect((await stat(join(instances, type, UUID))).mode & 0o777).toBe(0o755);
        for (const file of [disk.path, eph.path, join(instances, type, UUID, 'disk.info')]) {
          expect({ file, mode: ((await stat(file)).mode & 0o777).toString(8) }).toEqual({ file, mode: '644' });
        }
      }
    } finally {
      process.umask(previous);
    }
  });

  it('grow never shrinks a raw disk', async () => {
    const backend = new Backend({ instancesPath: instances, imagesType: 'raw' });
    const disk = backend.image({ uuid: UUID }, 'disk');
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    expect(await disk.grow(8 * MiB)).toBe(false);
    expect((await stat(disk.path)).size).toBe(32 * MiB);
    expect(await disk.grow(40 * MiB)).toBe(true);
    expect((await stat(disk.path)).size).toBe(40 * MiB);
  });

  it('two callers making the same disk at once: one creates it, the other finds it; one valid disk', async () => {
    const backend = new Backend({ instancesPath: instances, imagesType: 'qcow2' });
    const reports = await Promise.all(
      [0, 1].map(() => backend.image({ uuid: UUID }, 'disk').cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB })),
    );
    expect(reports.map((r) => r.created).sort()).toEqual([false, true]);
    expect(await readdir(join(instances, UUID))).toEqual(['disk', 'disk.info']);
    await qemuImg('check', '-f', 'qcow2', join(instances, UUID, 'disk'));
  });
});

describe('provision(): one inspection, injected tools only', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('policy-inject')));
  afterEach(() => remove());

  it('qcow2: a new disk costs one inspection of the base and no qemu-img at all', async () => {
    const source = await rawImage(dir, 'source.raw', 16 * MiB);
    const inspected: string[] = [];
    const qemuCalls: string[] = [];
    const refuse = async () => {
      qemuCalls.push('called');
      throw new Error('qemu-img must not run');
    };
    const backend = new Backend({
      instancesPath: join(dir, 'instances'),
      imagesType: 'qcow2',
      qemu: { convert: refuse, convertFromRbd: refuse, resize: refuse },
      tools: {
        inspect: async (path, options) => {
          inspected.push(path);
          return inspect(path, options);
        },
      },
    });
    await backend.image({ uuid: 'warm' }, 'disk').cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID });
    inspected.length = 0;
    const report = await backend.image({ uuid: UUID }, 'disk').cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 64 * MiB });
    expect(inspected).toEqual([join(dir, 'instances', '_base', FILENAME)]);
    expect(qemuCalls).toEqual([]);
    expect(report).toMatchObject({ created: true, fetched: false, format: 'qcow2', virtualSize: 64 * MiB });
    expect(Object.keys(report.timings).sort()).toEqual(['create', 'diskInfo', 'fetch', 'inspect', 'total']);
    expect((await qemuInfo(join(dir, 'instances', UUID, 'disk')))['virtual-size']).toBe(64 * MiB);
  });

  it('lvm: a qcow2 base is inspected once and converted with the injected qemu-img runner (trusted: it passed the check)', async () => {
    const raw = await rawImage(dir, 'base.raw', 8 * MiB);
    const qcow2 = join(dir, 'base.qcow2');
    await qemuImg('convert', '-f', 'raw', '-O', 'qcow2', raw, qcow2);
    const volumes = new Map<string, string>();
    const driver: Partial<LvmDriver> = {
      createVolume: async (vg, lv, size) => {
        const file = join(dir, `${vg}-${lv}`);
        await writeFile(file, '');
        execFileSync('truncate', ['-s', String(size), file]);
        volumes.set(`/dev/${vg}/${lv}`, file);
        return { path: file, volumeGroup: vg, logicalVolume: lv, size } satisfies CreatedVolume;
      },
      volumeInfo: async (path) => {
        if (!volumes.has(path)) throw new LvmNotFoundError(`no volume ${path}`);
        return { path } as never;
      },
      getVolumeSize: async (path) => (await stat(volumes.get(path) as string)).size,
      removeVolumes: async () => {},
      close: async () => {},
    };
    const converts: Array<{ src: string; options: StoreConvertOptions }> = [];
    const real = new QemuImg();
    const inspected: string[] = [];
    const backend = new Backend({
      instancesPath: join(dir, 'instances'),
      imagesType: 'lvm',
      lvm: { volumeGroup: 'vg', driver: driver as LvmDriver },
      qemu: {
        convert: async (src, dst, options) => {
          converts.push({ src, options });
          await real.convert(src, dst, options);
        },
        convertFromRbd: (source, dst, options) => real.convertFromRbd(source, dst, options),
        resize: (path, size, options) => real.resize(path, size, options),
      },
      tools: {
        inspect: async (path, options) => {
          inspected.push(path);
          return inspect(path, options);
        },
      },
    });
    const disk = backend.image({ uuid: UUID }, 'disk');
    const report = await disk.cache({ ...copyingFetch(qcow2), filename: FILENAME, imageId: IMAGE_ID });
    expect(report).toMatchObject({ created: true, fetched: true, format: 'raw', virtualSize: 8 * MiB });
    expect(inspected).toEqual([join(dir, 'instances', '_base', FILENAME)]);
    expect(converts).toHaveLength(1);
    expect(converts[0]?.options).toMatchObject({ srcFormat: 'qcow2', dstFormat: 'raw', trusted: true });
    const volume = volumes.get(disk.path) as string;
    expect((await readFile(volume)).subarray(0, 512).equals((await readFile(raw)).subarray(0, 512))).toBe(true);
    expect(await disk.grow(4 * MiB)).toBe(false);
    expect((await stat(volume)).size).toBe(8 * MiB);
  });
});

describe('preallocation on a full filesystem (ENOSPC)', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let mounted = '';
  beforeEach(async () => {
    requireRoot('the ENOSPC preallocation test (a small tmpfs)');
    ({ dir, remove } = await tempDir('policy-enospc'));
    mounted = join(dir, 'small');
    await mkdir(mounted);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mounted]);
  });
  afterEach(async () => {
    if (mounted) execFileSync('umount', [mounted]);
    mounted = '';
    await remove();
  });

  for (const type of ['raw', 'qcow2'] as const) {
    it(`${type}: a preallocation that fails with ENOSPC removes the new disk, and says ENOSPC`, async () => {
      const source = await rawImage(dir, 'source.raw', 4 * MiB);
      const backend = new Backend({ instancesPath: join(mounted, 'instances'), imagesType: type, preallocateImages: 'space' });
      const disk = backend.image({ uuid: UUID }, 'disk');
      const error = await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 256 * MiB }).catch((e: unknown) => e);
      expect(error).toMatchObject({ errnoName: 'ENOSPC' });
      expect(await disk.exists()).toBe(false);
      expect(await readdir(join(mounted, 'instances', UUID))).toEqual([]);
      // A disk that fits is made and preallocated.
      const report = await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 8 * MiB });
      expect(report.timings.preallocate).toBeGreaterThan(0);
      expect((await stat(disk.path)).blocks * 512).toBeGreaterThanOrEqual(8 * MiB);
    });
  }
});

describe('a full filesystem (ENOSPC) says ENOSPC and leaves nothing behind', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let mounted = '';
  let source: string;
  const mount = async (options: string): Promise<void> => {
    await mkdir(join(dir, 'small'));
    mounted = join(dir, 'small');
    execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mounted]);
  };
  /** Fills the mount with one preallocated file until `free` bytes are left. */
  const leave = async (free: number): Promise<void> => {
    const { bavail, bsize } = await statfs(mounted);
    execFileSync('fallocate', ['-l', String(bavail * bsize - free), join(mounted, 'filler')]);
  };
  beforeEach(async () => {
    requireRoot('the full-filesystem tests (a small tmpfs)');
    ({ dir, remove } = await tempDir('policy-full'));
    // Dense, so every copy of it needs its 4 MiB.
    source = join(dir, 'dense.raw');
    await writeFile(source, Buffer.alloc(4 * MiB, 1));
  });
  afterEach(async () => {
    if (mounted) execFileSync('umount', [mounted]);
    mounted = '';
    await remove();
  });

  for (const type of ['raw', 'qcow2'] as const) {
    it(`${type}: no inode left for the first folder: ENOSPC (Node's recursive mkdir says ENOENT), nothing made`, async () => {
      await mount('size=16m,nr_inodes=16');
      for (let i = 0; ; i++) {
        try {
          await writeFile(join(mounted, `inode${i}`), '');
        } catch (error) {
          expect(error).toMatchObject({ code: 'ENOSPC' });
          break;
        }
      }
      const instances = join(mounted, 'instances');
      const disk = new Backend({ instancesPath: instances, imagesType: type }).image({ uuid: UUID }, 'disk');
      const error = await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID }).catch((e: unknown) => e);
      expect(error).toMatchObject({ errnoName: 'ENOSPC' });
      expect(String(error)).not.toMatch(/ENOENT/);
      await expect(stat(instances)).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it(`${type}: the fetch runs out of space: FETCH_FAILED naming ENOSPC, no partial base, no instance folder`, async () => {
      await mount('size=16m');
      await leave(2 * MiB);
      const instances = join(mounted, 'instances');
      const disk = new Backend({ instancesPath: instances, imagesType: type }).image({ uuid: UUID }, 'disk');
      const error = await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'FETCH_FAILED', errnoName: 'ENOSPC' });
      expect(await readdir(join(instances, '_base'))).toEqual([]);
      await expect(stat(join(instances, UUID))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it(`${type}: the base fits and the disk does not: ENOSPC, no disk, no temporary file, no disk.info entry`, async () => {
      await mount('size=16m');
      // Room for the base and a little: a raw copy needs 4 MiB more, a qcow2 overlay some 200 KiB.
      await leave(4 * MiB + 64 * 1024);
      const instances = join(mounted, 'instances');
      const disk = new Backend({ instancesPath: instances, imagesType: type }).image({ uuid: UUID }, 'disk');
      const error = await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 8 * MiB }).catch((e: unknown) => e);
      expect(error).toMatchObject({ errnoName: 'ENOSPC' });
      expect(await disk.exists()).toBe(false);
      expect(await readdir(join(instances, UUID))).toEqual([]);
      // The base was good: it stays for the next try.
      expect(await readdir(join(instances, '_base'))).toEqual([FILENAME]);
      // With room again, the same call succeeds.
      await rm(join(mounted, 'filler'));
      expect(await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 8 * MiB })).toMatchObject({ created: true, fetched: false });
    });
  }
});

describe('libvirtInfo: io mode by cache mode, and rbd auth', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('policy-xml')));
  afterEach(() => remove());

  it("io='native' only with cache none/directsync; threads otherwise, also with no cache mode, which libvirt refuses with native (nova bug 1841363)", async () => {
    const backend = new Backend({ instancesPath: dir, imagesType: 'raw', preallocateImages: 'space' });
    const disk = backend.image({ uuid: UUID }, 'disk');
    const io = async (cacheMode?: 'none' | 'directsync' | 'writeback' | 'writethrough' | 'unsafe') =>
      (await disk.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', ...(cacheMode ? { cacheMode } : {}) })).driverIo;
    expect(await io()).toBe('threads');
    expect(await io('none')).toBe('native');
    expect(await io('directsync')).toBe('native');
    expect(await io('writeback')).toBe('threads');
    expect(await io('writethrough')).toBe('threads');
    expect(await io('unsafe')).toBe('threads');
    const plain = new Backend({ instancesPath: dir, imagesType: 'raw' }).image({ uuid: UUID }, 'disk');
    expect((await plain.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', cacheMode: 'writeback' })).driverIo).toBeUndefined();
  });

  it('rbd: cephx on and no secret uuid is refused up front (RBD_AUTH_NOT_CONFIGURED); with a secret, <auth> is there', async () => {
    const driver = (authRequired: boolean): RbdStoreDriver =>
      ({
        pool: 'vms',
        getMonAddrs: async () => [{ host: '127.0.0.1', port: 6789 }],
        authRequired: async () => authRequired,
      }) as unknown as RbdStoreDriver;
    const options = { diskBus: 'virtio', diskDev: 'vda' } as const;
    const cephx = new Backend({ instancesPath: dir, imagesType: 'rbd', rbd: { driver: driver(true), user: 'nova' } });
    await expect(cephx.image({ uuid: UUID }, 'disk').libvirtInfo(options)).rejects.toMatchObject({
      code: 'RBD_AUTH_NOT_CONFIGURED',
      pool: 'vms',
      image: `${UUID}_disk`,
    });
    const secret = '5b3c1b4e-8a9c-4f3e-9d7a-3c1b2a4e5f60';
    const configured = new Backend({ instancesPath: dir, imagesType: 'rbd', rbd: { driver: driver(true), user: 'nova', secretUuid: secret } });
    expect((await configured.image({ uuid: UUID }, 'disk').libvirtInfo(options)).auth).toEqual({ username: 'nova', secretType: 'ceph', secretUuid: secret });
    const none = new Backend({ instancesPath: dir, imagesType: 'rbd', rbd: { driver: driver(false) } });
    expect((await none.image({ uuid: UUID }, 'disk').libvirtInfo(options)).auth).toBeUndefined();
  });
});

describe('rbd clones: the lookup and the size query paid once per image and connection', () => {
  it('a second clone of the same location skips isCloneable and the size query; a snapshot gone since is looked up again', async () => {
    const calls: string[] = [];
    let snapshotGone = false;
    const sizes = new Map<string, number>();
    const driver = {
      pool: 'vms',
      isCloneable: async () => (calls.push('isCloneable'), !snapshotGone),
      clone: async (_location: unknown, name: string) => {
        calls.push(`clone ${name}`);
        if (snapshotGone) throw new RbdNotFoundError('no snapshot');
        sizes.set(name, 16 * MiB);
      },
      size: async (name: string) => (calls.push(`size ${name}`), BigInt(sizes.get(name) ?? 0)),
      resize: async (name: string, size: number) => void (calls.push(`resize ${name}`), sizes.set(name, size)),
      exists: async (name: string) => sizes.has(name),
    } as unknown as RbdStoreDriver;
    const imageService = { get: async () => ({ disk_format: 'raw', locations: [{ url: 'rbd://fsid/images/img/snap' }] }) };
    const { dir, remove } = await tempDir('policy-clone');
    try {
      const backend = new Backend({ instancesPath: dir, imagesType: 'rbd', imageService, rbd: { driver } });
      const never = async () => {
        throw new Error('cloned: nothing to fetch');
      };
      const cache = (uuid: string) => backend.image({ uuid }, 'disk').cache({ fetch: never, filename: 'f', imageId: 'img', size: 32 * MiB, clone: {} });
      expect(await cache('a')).toMatchObject({ created: true, cloned: true, virtualSize: 32 * MiB });
      expect(calls).toEqual(['isCloneable', 'clone a_disk', 'size a_disk', 'resize a_disk']);
      calls.length = 0;
      expect(await cache('b')).toMatchObject({ created: true, cloned: true, virtualSize: 32 * MiB });
      expect(calls).toEqual(['clone b_disk', 'resize b_disk']);
      // The flavor is still checked against the clone's size.
      calls.length = 0;
      const small = backend.image({ uuid: 'c' }, 'disk').cache({ fetch: never, filename: 'f', imageId: 'img', size: 8 * MiB, clone: {} });
      await expect(small).rejects.toMatchObject({ code: 'FLAVOR_DISK_TOO_SMALL', baseSize: 16 * MiB });
      calls.length = 0;
      snapshotGone = true;
      await expect(
        backend.image({ uuid: 'd' }, 'disk').cache({ fetch: never, filename: 'f', imageId: 'img', clone: { neverDownload: true } }),
      ).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' });
      expect(calls).toEqual(['clone d_disk', 'isCloneable']);
    } finally {
      await remove();
    }
  });
});

describe('snapshotExtract refuses what would make qemu-img read other files', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('policy-extract')));
  afterEach(() => remove());

  it('a qcow2 disk whose backing file is outside the cache is IMAGE_UNSAFE; the library-made overlay extracts, compressed', async () => {
    const instances = join(dir, 'instances');
    const backend = new Backend({ instancesPath: instances, imagesType: 'qcow2' });
    await mkdir(join(instances, UUID), { recursive: true });
    const planted = join(instances, UUID, 'disk');
    await qemuImg('create', '-f', 'qcow2', '-b', '/etc/hostname', '-F', 'raw', planted);
    const target = join(dir, 'out.qcow2');
    await expect(backend.disk(planted).snapshotExtract(target, 'qcow2')).rejects.toMatchObject({ code: 'IMAGE_UNSAFE' });
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });

    const source = await rawImage(dir, 'source.raw', 16 * MiB);
    const disk = backend.image({ uuid: 'mine' }, 'disk');
    await disk.cache({ ...copyingFetch(source), filename: FILENAME, imageId: IMAGE_ID, size: 32 * MiB });
    await disk.snapshotExtract(target, 'qcow2', { compress: true });
    const info = await qemuInfo(target);
    expect(info).toMatchObject({ format: 'qcow2', 'virtual-size': 32 * MiB });
    expect(info['backing-filename']).toBeUndefined();
    // nova writes iso snapshots as raw; compression needs a qcow2 target.
    const iso = join(dir, 'out.iso');
    await disk.snapshotExtract(iso, 'iso');
    expect((await qemuInfo(iso)).format).toBe('raw');
    await expect(disk.snapshotExtract(join(dir, 'x.raw'), 'raw', { compress: true })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('cache() with no fetch, and the disk-ops limit', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('policy-pipeline')));
  afterEach(() => remove());

  it('no fetch and no image service that can download: INVALID_ARGUMENT naming fetch and imageService, nothing touched', async () => {
    const instances = join(dir, 'instances');
    const getOnly = { get: async () => ({ id: IMAGE_ID, disk_format: 'raw' }) };
    for (const backend of [new Backend({ instancesPath: instances, imagesType: 'raw' }), new Backend({ instancesPath: instances, imagesType: 'qcow2', imageService: getOnly })]) {
      const error = await backend
        .image({ uuid: UUID }, 'disk')
        .cache({ imageId: IMAGE_ID, size: 32 * MiB, context: {} })
        .catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect((error as Error).message).toMatch(/fetch/);
      expect((error as Error).message).toMatch(/imageService/);
    }
    // A generated disk (no image id) has nothing to download: its fetch is required.
    await expect(new Backend({ instancesPath: instances, imagesType: 'raw' }).image({ uuid: UUID }, 'disk.swap').cache({ filename: 'swap_1' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/fetch/),
    });
    // No folder, no lock file, no base.
    await expect(stat(instances)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('the base name defaults to cacheFileName(imageId); a fetch of the caller gets the request context', async () => {
    const source = await rawImage(dir, 'source.raw', 16 * MiB);
    const backend = new Backend({ instancesPath: join(dir, 'instances'), imagesType: 'raw' });
    const seen: unknown[] = [];
    const context = { authToken: 't' };
    const report = await backend.image({ uuid: UUID }, 'disk').cache({
      imageId: IMAGE_ID,
      context,
      fetch: async (request) => {
        seen.push(request.context);
        await copyRawData(source, request.target);
      },
    });
    expect(report.base).toBe(backend.context.cache.path(FILENAME));
    expect(seen).toEqual([context]);
  });

  it('maxConcurrentDiskOps: one limiter per backend; copies queue behind it (real copies, counted)', async () => {
    expect(() => new Backend({ instancesPath: dir, maxConcurrentDiskOps: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(new Backend({ instancesPath: dir }).context.diskOps.limit).toBe(Infinity);
    const source = await rawImage(dir, 'source.raw', 16 * MiB);
    let running = 0;
    let most = 0;
    const backend = new Backend({
      instancesPath: join(dir, 'instances'),
      imagesType: 'raw',
      maxConcurrentDiskOps: 1,
      tools: {
        copyRawData: async (src, dst, options) => {
          most = Math.max(most, ++running);
          try {
            // Long enough for the other callers to arrive.
            await new Promise((resolve) => setTimeout(resolve, 50));
            return await copyRawData(src, dst, options);
          } finally {
            running--;
          }
        },
      },
    });
    expect(backend.context.diskOps.limit).toBe(1);
    const { fetch } = copyingFetch(source);
    await Promise.all(['a', 'b', 'c', 'd'].map((uuid) => backend.image({ uuid }, 'disk').cache({ fetch, imageId: IMAGE_ID, size: 32 * MiB })));
    expect(most).toBe(1);
    for (const uuid of ['a', 'b', 'c', 'd']) expect((await qemuInfo(join(dir, 'instances', uuid, 'disk')))['virtual-size']).toBe(32 * MiB);
  });
});
