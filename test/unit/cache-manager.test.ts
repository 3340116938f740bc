import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BaseImageCache, ImageCacheManager, cacheFileName, parseBaseFileName } from '../../src/cache/index.js';
import { tempDir } from './helpers/system.js';

const HOUR = 3_600_000;

describe('parseBaseFileName', () => {
  const sha = cacheFileName('img');
  it.each([
    [sha, { kind: 'original', fingerprint: sha }],
    [`${sha}_10`, { kind: 'resized', fingerprint: sha, suffix: '10' }],
    [`${sha}_21474836480`, { kind: 'resized', fingerprint: sha, suffix: '21474836480' }],
    [`${sha}_sm`, { kind: 'resized', fingerprint: sha, suffix: 'sm' }],
    ['swap_512', { kind: 'swap' }],
    ['ephemeral_20_40d1d2c', { kind: 'ephemeral' }],
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
});
