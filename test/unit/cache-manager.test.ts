import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readdir, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  BaseImageCache,
  ImageCacheManager,
  cacheFileName,
  ephemeralFileExtension,
  ephemeralFileName,
  parseBaseFileName,
  swapFileName,
} from '../../src/cache/index.js';
import { tempDir } from './helpers/system.js';

const HOUR = 3_600_000;

describe('parseBaseFileName', () => {
  const sha = cacheFileName('img');
  it.each([
    [sha, { kind: 'original', fingerprint: sha }],
    [`${sha}_10`, { kind: 'resized', fingerprint: sha, suffix: '10' }],
    [`${sha}_21474836480`, { kind: 'resized', fingerprint: sha, suffix: '21474836480' }],
    [`${sha}_sm`, { kind: 'resized', fingerprint: sha, suffix: 'sm' }],
    ['swap_512', { kind: 'swap', sizeMb: 512 }],
    ['ephemeral_20_40d1d2c', { kind: 'ephemeral', sizeGb: 20, extension: '40d1d2c' }],
  ])('understands %s', (name, expected) => {
    expect(parseBaseFileName(name)).toEqual(expected);
  });

  it.each([`${sha}.part-0123456789ab`, `${sha}.info`, `${sha}_10.info`, `${sha}_`, `${sha}_x`, 'swap_', 'swap_1_2', 'ephemeral_1', 'notes.txt', sha.toUpperCase()])(
    'leaves %s alone',
    (name) => {
      expect(parseBaseFileName(name)).toBeUndefined();
    },
  );
});

describe('ephemeral and swap base names (nova driver._create_ephemeral / swap_%s)', () => {
  it('builds the names nova builds, and the parser reads them back', () => {
    // nova: md5 of the file system name (or mkfs command), 7 hex digits.
    expect(ephemeralFileExtension('ext4')).toBe('40d1d2c');
    expect(ephemeralFileExtension('vfat')).toBe('0706d66');
    expect(ephemeralFileName(20, 'ext4')).toBe('ephemeral_20_40d1d2c');
    expect(ephemeralFileName(1, '0706d66')).toBe('ephemeral_1_0706d66');
    expect(swapFileName(512)).toBe('swap_512');
    for (const [gb, fs] of [[0, 'ntfs'], [20, 'ext4'], [160, 'mkfs.ext4 -L %(fs_label)s -F %(target)s']] as const) {
      const name = ephemeralFileName(gb, fs);
      expect(parseBaseFileName(name)).toEqual({ kind: 'ephemeral', sizeGb: gb, extension: ephemeralFileExtension(fs) });
    }
    for (const mb of [0, 1, 512, 65536]) expect(parseBaseFileName(swapFileName(mb))).toEqual({ kind: 'swap', sizeMb: mb });
    expect(() => swapFileName(-1)).toThrow(/sizeMb/);
    expect(() => ephemeralFileName(1.5, 'ext4')).toThrow(/sizeGb/);
    expect(() => ephemeralFileExtension('')).toThrow(/fileSystemOrMkfsCommand/);
  });
});

describe('ImageCacheManager', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let cache: BaseImageCache;
  const now = Date.now();
  const inUseId = 'image-in-use';
  const unusedId = 'image-unused';

  async function baseFile(name: string, ageMs: number): Promise<string> {
    const path = join(cache.baseDir, name);
    await writeFile(path, name);
    const t = new Date(now - ageMs);
    await utimes(path, t, t);
    return path;
  }

  beforeEach(async () => {
    ({ dir, remove } = await tempDir('imagecache'));
    cache = new BaseImageCache({ instancesPath: dir });
    await mkdir(cache.baseDir, { recursive: true });
  });
  afterEach(() => remove());

  it('lists base files by nova naming, ignoring everything else', async () => {
    const o = cacheFileName(unusedId);
    await baseFile(o, 0);
    await baseFile(`${o}_10`, 0);
    await baseFile('swap_1024', 0);
    await baseFile('ephemeral_1_0706d66', 0);
    await baseFile(`${o}.part-aaaaaaaaaaaa`, 0);
    await baseFile('README', 0);
    await mkdir(join(cache.baseDir, cacheFileName('a-directory')));
    const manager = new ImageCacheManager({ cache });
    const listed = await manager.listBaseFiles();
    expect(listed.map((f) => [f.name, f.kind])).toEqual([
      [o, 'original'],
      [`${o}_10`, 'resized'],
      ['ephemeral_1_0706d66', 'ephemeral'],
      ['swap_1024', 'swap'],
    ]);
    expect(listed[0]).toMatchObject({ path: join(cache.baseDir, o), fingerprint: o, sizeBytes: 40 });
  });

  it('lists nothing when the cache folder does not exist yet', async () => {
    const fresh = new BaseImageCache({ instancesPath: join(dir, 'elsewhere') });
    expect(await new ImageCacheManager({ cache: fresh }).listBaseFiles()).toEqual([]);
  });

  it('removes unused originals after 24 h and resized copies after 1 h, never files in use', async () => {
    const unused = cacheFileName(unusedId);
    const used = cacheFileName(inUseId);
    const paths = {
      oldOriginal: await baseFile(unused, 25 * HOUR),
      youngOriginal: await baseFile(cacheFileName('young'), 23 * HOUR),
      oldResized: await baseFile(`${unused}_10`, 2 * HOUR),
      youngResized: await baseFile(`${cacheFileName('young')}_10`, 30 * 60_000),
      oldSwap: await baseFile('swap_512', 25 * HOUR),
      youngSwap: await baseFile('swap_1024', 2 * HOUR),
      oldEphemeral: await baseFile('ephemeral_10_0706d66', 25 * HOUR),
      usedByImage: await baseFile(used, 100 * HOUR),
      usedByImageResized: await baseFile(`${used}_20`, 100 * HOUR),
      usedByPath: await baseFile(cacheFileName('backing'), 100 * HOUR),
      usedByName: await baseFile('swap_2048', 100 * HOUR),
      foreign: await baseFile('not-a-base', 1000 * HOUR),
    };
    const manager = new ImageCacheManager({ cache });
    const report = await manager.removeUnused({
      inUse: new Set([paths.usedByPath, 'swap_2048', '/somewhere/else/swap_512']),
      inUseImageIds: [inUseId],
      now,
    });
    expect(report.removed.sort()).toEqual([paths.oldOriginal, paths.oldResized, paths.oldSwap, paths.oldEphemeral].sort());
    expect(report.inUse.sort()).toEqual([paths.usedByImage, paths.usedByImageResized, paths.usedByPath, paths.usedByName].sort());
    expect(report.tooYoung.sort()).toEqual([paths.youngOriginal, paths.youngResized, paths.youngSwap].sort());
    expect(report.failed).toEqual([]);
    const left = await readdir(cache.baseDir);
    for (const p of report.removed) expect(left).not.toContain(p.slice(cache.baseDir.length + 1));
    expect(left).toContain('not-a-base');
    // Files in use are marked used now, so they age from their last use (nova's update_mtime).
    expect((await stat(paths.usedByImage)).mtimeMs).toBeCloseTo(now, -2);
  });

  it('takes its minimum ages from the options', async () => {
    const path = await baseFile(cacheFileName('x'), 10 * 60_000);
    const resized = await baseFile(`${cacheFileName('x')}_5`, 2 * 60_000);
    const manager = new ImageCacheManager({ cache, originalMinimumAgeSeconds: 300, resizedMinimumAgeSeconds: 60 });
    expect(manager.minimumAgeSeconds('original')).toBe(300);
    expect(manager.minimumAgeSeconds('resized')).toBe(60);
    const report = await manager.removeUnused({ now });
    expect(report.removed.sort()).toEqual([path, resized].sort());
  });

  it('re-checks age under the file lock: a base refreshed while waiting stays', async () => {
    const name = cacheFileName('raced');
    const path = await baseFile(name, 48 * HOUR);
    const manager = new ImageCacheManager({ cache });
    // A fetchOnce user touches it (fast path) while the manager waits for the lock.
    let release!: () => void;
    const holding = cache.locks.synchronized(name, () => new Promise<void>((r) => (release = r)));
    const pass = manager.removeUnused({ now });
    await new Promise((r) => setTimeout(r, 50));
    await cache.fetchOnce(name, async () => {
      throw new Error('must not fetch');
    });
    release();
    await holding;
    const report = await pass;
    expect(report.removed).toEqual([]);
    expect(report.tooYoung).toEqual([path]);
    expect(await cache.exists(name)).toBe(true);
  });

  it('validates its options', async () => {
    expect(() => new ImageCacheManager({ cache: undefined as never })).toThrow(/Expected a BaseImageCache for cache/);
    expect(() => new ImageCacheManager({ cache, originalMinimumAgeSeconds: -1 })).toThrow(/originalMinimumAgeSeconds/);
    await expect(new ImageCacheManager({ cache }).removeUnused({ inUse: 'abc' as never })).rejects.toThrow(/inUse/);
  });

  async function qcow2On(disk: string, backing: string, backingFormat = 'raw'): Promise<void> {
    await mkdir(join(disk, '..'), { recursive: true });
    execFileSync('qemu-img', ['create', '-f', 'qcow2', '-F', backingFormat, '-b', backing, disk], { stdio: 'pipe' });
  }

  async function rawBase(name: string, ageMs: number): Promise<string> {
    const path = join(cache.baseDir, name);
    await writeFile(path, '');
    await truncate(path, 1 << 20);
    const t = new Date(now - ageMs);
    await utimes(path, t, t);
    return path;
  }

  it('never removes the base under a live qcow2 disk, though no in-use list is given (the instances folder is scanned)', async () => {
    const base = await rawBase(cacheFileName('running-image'), 100 * HOUR);
    const unused = await rawBase(cacheFileName('unused-image'), 100 * HOUR);
    const disk = join(dir, '0f6c1d2e-0000-4000-8000-000000000001', 'disk');
    await qcow2On(disk, base);
    const report = await new ImageCacheManager({ cache }).removeUnused({ now });
    expect(report.inUse).toEqual([base]);
    expect(report.removed).toEqual([unused]);
    expect(report.scanProblems).toEqual([]);
    // The disk still opens: its backing file is there.
    execFileSync('qemu-img', ['info', '-U', '--backing-chain', '-f', 'qcow2', disk], { stdio: 'pipe' });
  });

  it('finds bases through relative backing names, disk.info entries outside the instance folder, and down a chain of bases', async () => {
    const original = await rawBase(cacheFileName('chain-image'), 100 * HOUR);
    // A legacy qcow2 resized base, backed by its original.
    const resized = join(cache.baseDir, `${cacheFileName('chain-image')}_10`);
    await qcow2On(resized, original);
    const relBase = await rawBase(cacheFileName('relative-image'), 100 * HOUR);
    const outsideBase = await rawBase(cacheFileName('outside-image'), 100 * HOUR);
    for (const p of [resized]) await utimes(p, new Date(now - 100 * HOUR), new Date(now - 100 * HOUR));

    const instance = join(dir, '0f6c1d2e-0000-4000-8000-000000000002');
    await qcow2On(join(instance, 'disk'), resized, 'qcow2');
    await mkdir(instance, { recursive: true });
    execFileSync('qemu-img', ['create', '-f', 'qcow2', '-F', 'raw', '-b', `../_base/${cacheFileName('relative-image')}`, join(instance, 'disk.local')], {
      cwd: instance,
      stdio: 'pipe',
    });
    const elsewhere = join(dir, 'elsewhere', 'disk.eph0');
    await qcow2On(elsewhere, outsideBase);
    await writeFile(join(instance, 'disk.info'), JSON.stringify({ [join(instance, 'disk')]: 'qcow2', [elsewhere]: 'qcow2' }));

    const report = await new ImageCacheManager({ cache }).removeUnused({ now });
    expect(report.inUse.sort()).toEqual([original, resized, relBase, outsideBase].sort());
    expect(report.removed).toEqual([]);
  });

  it('an explicit in-use list only adds to the scan', async () => {
    const scanned = await rawBase(cacheFileName('scanned'), 100 * HOUR);
    const listed = await rawBase(cacheFileName('listed'), 100 * HOUR);
    await qcow2On(join(dir, '0f6c1d2e-0000-4000-8000-000000000003', 'disk'), scanned);
    const report = await new ImageCacheManager({ cache }).removeUnused({ inUseImageIds: ['listed'], now });
    expect(report.inUse.sort()).toEqual([scanned, listed].sort());
  });

  it('removes nothing while a disk.info of the instances folder cannot be read', async () => {
    const base = await rawBase(cacheFileName('maybe-used'), 100 * HOUR);
    const instance = join(dir, '0f6c1d2e-0000-4000-8000-000000000004');
    await mkdir(instance);
    await writeFile(join(instance, 'disk.info'), '{not json');
    const report = await new ImageCacheManager({ cache }).removeUnused({ now });
    expect(report.removed).toEqual([]);
    expect(report.unjudged).toEqual([base]);
    expect(report.scanProblems.map((p) => p.path)).toEqual([join(instance, 'disk.info')]);
    await rm(join(instance, 'disk.info'));
    expect((await new ImageCacheManager({ cache }).removeUnused({ now })).removed).toEqual([base]);
  });

  it('diskUsage: the blocks the cache folder\'s files occupy, as nova\'s get_disk_usage reports them', async () => {
    const manager = new ImageCacheManager({ cache });
    expect(await manager.diskUsage()).toBe(0);
    await writeFile(join(cache.baseDir, cacheFileName('dense')), Buffer.alloc(1 << 20, 1));
    const sparse = join(cache.baseDir, cacheFileName('sparse'));
    await writeFile(sparse, Buffer.alloc(8192, 1));
    await truncate(sparse, 100 << 20); // 100 MiB long, 8 KiB allocated: counts 8 KiB
    await mkdir(join(cache.baseDir, 'a-folder'));
    const ours = await manager.diskUsage();
    const du = Number(execFileSync('du', ['-B1', '-s', cache.baseDir], { encoding: 'utf8' }).split('\t')[0]);
    const folder = (await stat(cache.baseDir)).blocks * 512 + (await stat(join(cache.baseDir, 'a-folder'))).blocks * 512;
    expect(ours).toBe(du - folder);
    expect(ours).toBeLessThan(2 << 20);
    expect(await new ImageCacheManager({ cache: new BaseImageCache({ instancesPath: join(dir, 'none') }) }).diskUsage()).toBe(0);

    // The same figure from nova's own ImageCacheManager (Debian's python3-nova).
    const nova = spawnSync(
      '/usr/bin/python3',
      [
        '-c',
        [
          'import sys',
          'from nova import conf',
          "conf.CONF([], project='nova')",
          "conf.CONF.set_override('instances_path', sys.argv[1])",
          'from nova.virt.libvirt import imagecache',
          'print(imagecache.ImageCacheManager().get_disk_usage())',
        ].join('\n'),
        dir,
      ],
      { encoding: 'utf8', timeout: 90_000 },
    );
    if (nova.status !== 0 && /No module named .?nova/.test(nova.stderr)) {
      console.warn('python3-nova is not installed: the comparison with nova\'s get_disk_usage did not run');
      return;
    }
    expect(nova.stderr.includes('Traceback') ? nova.stderr : '').toBe('');
    expect(Number(nova.stdout.trim())).toBe(ours);
  }, 120_000);

  it('precache: fetches each image once under the cache lock, reports what it did, and leaves nothing of a failed fetch', async () => {
    const manager = new ImageCacheManager({ cache });
    const already = await rawBase(cacheFileName('cached-before'), HOUR);
    const fetches: string[] = [];
    const fetch = async (imageId: string, { target }: { target: string }): Promise<void> => {
      fetches.push(imageId);
      await new Promise((r) => setTimeout(r, 30));
      if (imageId === 'broken') throw new Error('image service said 500');
      await writeFile(target, imageId);
    };
    // Two callers at once ask for overlapping lists: each image is fetched once.
    const [a, b] = await Promise.all([
      manager.precache(['img-1', 'cached-before', 'broken', { imageId: 'img-2', filename: ephemeralFileName(1, 'ext4') }], fetch, { concurrency: 2 }),
      manager.precache(['img-1'], fetch),
    ]);
    expect(fetches.filter((id) => id === 'img-1')).toHaveLength(1);
    expect(a.map((r) => [r.imageId, r.fetched, r.error?.code])).toEqual([
      ['img-1', a[0]?.fetched, undefined],
      ['cached-before', false, undefined],
      // The fetch's own failure (a plain Error) reaches the report as FETCH_FAILED, its cause kept.
      ['broken', false, 'FETCH_FAILED'],
      ['img-2', true, undefined],
    ]);
    expect([a[0]?.fetched, b[0]?.fetched].sort()).toEqual([false, true]);
    expect(a[1]?.path).toBe(already);
    expect(a[3]?.path).toBe(join(cache.baseDir, 'ephemeral_1_40d1d2c'));
    const left = await readdir(cache.baseDir);
    expect(left.sort()).toEqual([cacheFileName('cached-before'), cacheFileName('img-1'), 'ephemeral_1_40d1d2c'].sort());
    await expect(manager.precache(['x'], fetch, { concurrency: 0 })).rejects.toThrow(/concurrency/);
  });
});
