// The cache across processes: the compiled library runs in child processes.
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BaseImageCache, Locks, cacheFileName } from '../../src/cache/index.js';
import { compileLibrary, startChild } from './helpers/compiled.js';
import { tempDir } from './helpers/system.js';

let dist: string;
let cleanupDist: () => Promise<void>;
beforeAll(async () => ({ dist, cleanup: cleanupDist } = await compileLibrary()), 120_000);
afterAll(() => cleanupDist?.());

describe('the base-image cache across processes', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('cache-procs')));
  afterEach(() => remove());

  it('fetches a base exactly once when 8 processes ask at the same time', async () => {
    const name = cacheFileName('shared-image');
    const counter = join(dir, 'fetches');
    const children = Array.from({ length: 8 }, () => startChild(dist, 'cache-fetch.mjs', [dir, name, counter, '300']));
    const results = await Promise.all(children.map((c) => c.done));
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(`path=${join(dir, '_base', name)}`);
    }
    expect((await readFile(counter, 'utf8')).trim().split('\n')).toHaveLength(1);
    expect(await readFile(join(dir, '_base', name), 'utf8')).toBe(`base image of ${name}\n`);
    expect(await readdir(join(dir, '_base'))).toEqual([name]);
    expect(await readdir(join(dir, 'locks'))).toEqual([`nova-${name}`]);
  });

  it('recovers from a process killed mid-fetch: lock released by the kernel, partial file swept, base fetched', async () => {
    const name = cacheFileName('killed-image');
    const child = startChild(dist, 'cache-hang.mjs', [dir, name, '2000']);
    const line = await child.line((l) => l.startsWith('fetching '));
    const partial = line.slice('fetching '.length);
    child.kill('SIGKILL');
    const ended = await child.done;
    expect(ended.signal).toBe('SIGKILL');
    // What the killed process left: its (unlocked) lock file and its partial file, no base.
    expect((await stat(join(dir, 'locks', `nova-${name}`))).isFile()).toBe(true);
    expect(await readFile(partial, 'utf8')).toBe('partial');
    expect(await readdir(join(dir, '_base'))).toEqual([partial.slice(join(dir, '_base').length + 1)]);

    const locks = new Locks({ lockPath: join(dir, 'locks'), staleMs: 2000, updateMs: 1000, timeoutMs: 30_000 });
    const cache = new BaseImageCache({ instancesPath: dir, locks });
    const path = await cache.fetchOnce(name, ({ target }) => writeFile(target, 'complete'));
    expect(await readFile(path, 'utf8')).toBe('complete');
    expect(await readdir(join(dir, '_base'))).toEqual([name]);
    expect(await readdir(join(dir, 'locks'))).toEqual([`nova-${name}`]);
  });

  it('takes a lock whose holder was killed with SIGKILL at once: the kernel released it', async () => {
    const child = startChild(dist, 'lock-kill.mjs', [join(dir, 'locks'), 'victim']);
    const ended = await child.done;
    expect(ended.signal).toBe('SIGKILL');
    expect(ended.stdout).toBe('locked\n');
    expect((await stat(join(dir, 'locks', 'nova-victim'))).isFile()).toBe(true);
    const locks = new Locks({ lockPath: join(dir, 'locks'), timeoutMs: 0 });
    await expect(locks.synchronized('victim', async () => 'mine')).resolves.toBe('mine');
  });
});
