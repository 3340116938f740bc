import { execFileSync } from 'node:child_process';
import { mkdir, readFile, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BaseImageCache, Locks, cacheFileName, type FetchRequest } from '../../src/cache/index.js';
import { AbortError, CacheError, FetchFailedError, QemuImgError } from '../../src/errors.js';
import { tempDir } from './helpers/system.js';

describe('cacheFileName', () => {
  it('is the sha1 hex of the image id, as nova names base files', () => {
    const id = '155d900f-4e14-4e4c-a73d-069cbf4541e6';
    const sha1sum = execFileSync('sha1sum', { input: id, encoding: 'utf8' }).split(' ')[0];
    expect(cacheFileName(id)).toBe(sha1sum);
    expect(cacheFileName(id)).toMatch(/^[0-9a-f]{40}$/);
  });

  it('hashes the UTF-8 bytes of the id', () => {
    const sha1sum = execFileSync('sha1sum', { input: Buffer.from('image-é', 'utf8'), encoding: 'utf8' }).split(' ')[0];
    expect(cacheFileName('image-é')).toBe(sha1sum);
  });

  it('rejects an empty id', () => {
    expect(() => cacheFileName('')).toThrow("Expected an image id for imageId but received ''");
  });
});

describe('BaseImageCache', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let cache: BaseImageCache;
  const name = cacheFileName('image-1');
  beforeEach(async () => {
    ({ dir, remove } = await tempDir('cache'));
    cache = new BaseImageCache({ instancesPath: dir });
  });
  afterEach(() => remove());

  const writer =
    (content: string, calls: FetchRequest[] = []) =>
    async (request: FetchRequest) => {
      calls.push(request);
      await writeFile(request.target, content);
    };

  it('creates <instancesPath>/_base on demand and fetches into a temporary sibling', async () => {
    expect(cache.baseDir).toBe(join(dir, '_base'));
    await expect(stat(cache.baseDir)).rejects.toMatchObject({ code: 'ENOENT' });
    const calls: FetchRequest[] = [];
    const path = await cache.fetchOnce(name, writer('image bytes', calls), { maxSize: 1 << 30 });
    expect(path).toBe(join(dir, '_base', name));
    expect(await readFile(path, 'utf8')).toBe('image bytes');
    expect(calls).toHaveLength(1);
    expect(calls[0]?.target).toMatch(new RegExp(`^${join(dir, '_base', name)}\\.part-[0-9a-f]{12}$`));
    expect(calls[0]?.maxSize).toBe(1 << 30);
    expect(await readdir(cache.baseDir)).toEqual([name]);
    // The lock file stays, as nova's do (it is unlocked, not removed).
    expect(await readdir(join(dir, 'locks'))).toEqual([`nova-${name}`]);
  });

  it('honours imageCacheSubdirectoryName', async () => {
    const custom = new BaseImageCache({ instancesPath: dir, imageCacheSubdirectoryName: 'cache-dir' });
    expect(await custom.fetchOnce(name, writer('x'))).toBe(join(dir, 'cache-dir', name));
  });

  it('fetches exactly once for many concurrent callers', async () => {
    const calls: FetchRequest[] = [];
    const slow = async (request: FetchRequest) => {
      calls.push(request);
      await writeFile(request.target, 'half');
      await new Promise((r) => setTimeout(r, 50));
      await writeFile(request.target, 'whole image');
    };
    const other = new BaseImageCache({ instancesPath: dir });
    const paths = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 3 ? cache : other).fetchOnce(name, slow)));
    expect(calls).toHaveLength(1);
    expect(new Set(paths)).toEqual(new Set([join(dir, '_base', name)]));
    expect(await readFile(paths[0] as string, 'utf8')).toBe('whole image');
  });

  it('returns an existing base without fetching, and marks it used now', async () => {
    await mkdir(cache.baseDir);
    const path = join(cache.baseDir, name);
    await writeFile(path, 'already here');
    const old = new Date(Date.now() - 3 * 86_400_000);
    await utimes(path, old, old);
    const calls: FetchRequest[] = [];
    expect(await cache.fetchOnce(name, writer('new', calls))).toBe(path);
    expect(calls).toHaveLength(0);
    expect(await readFile(path, 'utf8')).toBe('already here');
    expect(Date.now() - (await stat(path)).mtimeMs).toBeLessThan(60_000);
    expect(await cache.exists(name)).toBe(true);
  });

  it('wraps a failing fetch as FETCH_FAILED (its error the cause) and leaves no base and no partial file', async () => {
    const boom = new Error('glance said no');
    const failing = async ({ target }: FetchRequest) => {
      await writeFile(target, 'partial');
      throw boom;
    };
    const error = await cache.fetchOnce(name, failing).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FetchFailedError);
    expect(error).toMatchObject({ code: 'FETCH_FAILED', operation: 'fetchOnce', cause: boom, message: expect.stringContaining('glance said no') });
    expect(await readdir(cache.baseDir)).toEqual([]);
    expect(await cache.exists(name)).toBe(false);
    // And the next caller fetches for real.
    expect(await readFile(await cache.fetchOnce(name, writer('ok')), 'utf8')).toBe('ok');
  });

  it('passes a library error from the fetch through as it is', async () => {
    const qemu = new QemuImgError('qemu-img convert failed', { operation: 'convert' });
    await expect(
      cache.fetchOnce(name, async () => {
        throw qemu;
      }),
    ).rejects.toBe(qemu);
    expect(await readdir(cache.baseDir)).toEqual([]);
  });

  it('sweeps partial files of dead fetches of the same name, and only those', async () => {
    await mkdir(cache.baseDir);
    await writeFile(join(cache.baseDir, `${name}.part-deadbeef0000`), 'left by a killed process');
    const otherPartial = `${cacheFileName('other')}.part-123456abcdef`;
    await writeFile(join(cache.baseDir, otherPartial), 'another image, maybe being fetched');
    await cache.fetchOnce(name, writer('fresh'));
    expect((await readdir(cache.baseDir)).sort()).toEqual([name, otherPartial].sort());
  });

  it('fails with CACHE_FAILED when the fetch resolves without writing the target', async () => {
    const error = await cache.fetchOnce(name, async () => undefined).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheError);
    expect(error).toMatchObject({ code: 'CACHE_FAILED', operation: 'fetchOnce' });
    expect(await cache.exists(name)).toBe(false);
  });

  it('refuses a fetch that leaves something other than a regular file', async () => {
    const error = await cache.fetchOnce(name, async ({ target }) => mkdir(target)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CACHE_FAILED' });
    expect(await readdir(cache.baseDir)).toEqual([]);
  });

  it('aborts the fetch through the signal and places nothing', async () => {
    const controller = new AbortController();
    const fetch = async ({ target, signal }: FetchRequest) => {
      await writeFile(target, 'x');
      controller.abort();
      expect(signal.aborted).toBe(true);
    };
    const error = await cache.fetchOnce(name, fetch, { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).cause).toBe(controller.signal.reason);
    expect(await readdir(cache.baseDir)).toEqual([]);
  });

  it('an aborted fetch that rejects with the signal reason is an AbortError too', async () => {
    const controller = new AbortController();
    const fetch = async ({ signal }: FetchRequest) => {
      controller.abort();
      signal.throwIfAborted();
    };
    await expect(cache.fetchOnce(name, fetch, { signal: controller.signal })).rejects.toBeInstanceOf(AbortError);
    expect(await readdir(cache.baseDir)).toEqual([]);
  });

  it('keeps a base another holder placed meanwhile (first base wins)', async () => {
    // Simulates the stale-lock takeover race: while our fetch runs, a base
    // appears under the final name. Ours must not replace it.
    const path = cache.path(name);
    const fetch = async ({ target }: FetchRequest) => {
      await writeFile(path, 'the first base');
      await writeFile(target, 'the second base');
    };
    expect(await cache.fetchOnce(name, fetch)).toBe(path);
    expect(await readFile(path, 'utf8')).toBe('the first base');
    expect(await readdir(cache.baseDir)).toEqual([name]);
  });

  it('fetches under the injected lock service, named after the file', async () => {
    const names: string[] = [];
    const locks = new Locks({ lockPath: join(dir, 'locks') });
    const recording = {
      synchronized: <T>(lockName: string, fn: Parameters<Locks['synchronized']>[1]) => {
        names.push(lockName);
        return locks.synchronized(lockName, fn) as Promise<T>;
      },
    };
    const injected = new BaseImageCache({ instancesPath: dir, locks: recording });
    await injected.fetchOnce(name, writer('x'));
    expect(names).toEqual([name]);
  });

  it('validates its arguments', async () => {
    expect(() => new BaseImageCache({ instancesPath: '' })).toThrow("Expected a folder path for instancesPath but received ''");
    expect(() => new BaseImageCache({ instancesPath: dir, imageCacheSubdirectoryName: '../x' })).toThrow(/imageCacheSubdirectoryName/);
    expect(() => cache.path('../etc/passwd')).toThrow("Expected a base file name for filename but received '../etc/passwd'");
    expect(() => cache.path(`${name}.part-1`)).toThrow(/filename/);
    await expect(cache.fetchOnce(name, 'nope' as never)).rejects.toThrow('Expected a function for fetch');
    await expect(cache.fetchOnce(name, writer('x'), { maxSize: -1 })).rejects.toThrow(/maxSize/);
  });
});
