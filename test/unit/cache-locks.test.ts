import { mkdir, readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyedMutex, Locks } from '../../src/cache/index.js';
import { ImageBackendError } from '../../src/errors.js';
import { tempDir } from './helpers/system.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

describe('KeyedMutex', () => {
  it('runs callers of one key one at a time, in arrival order', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        mutex.run('k', async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          events.push(`start ${i}`);
          await tick();
          events.push(`end ${i}`);
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(events.filter((e) => e.startsWith('start'))).toEqual(Array.from({ length: 10 }, (_, i) => `start ${i}`));
    expect(mutex.size).toBe(0);
  });

  it('lets different keys run at the same time', async () => {
    const mutex = new KeyedMutex();
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      ['a', 'b', 'c'].map((k) =>
        mutex.run(k, async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await tick();
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(3);
  });

  it('releases the key when the function throws', async () => {
    const mutex = new KeyedMutex();
    await expect(mutex.run('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(mutex.run('k', async () => 42)).resolves.toBe(42);
  });

  it('stops waiting on abort without breaking the queue', async () => {
    const mutex = new KeyedMutex();
    let release!: () => void;
    const holder = mutex.run('k', () => new Promise<void>((r) => (release = r)));
    const controller = new AbortController();
    const waiter = mutex.run('k', async () => 'ran', controller.signal);
    let thirdRan = false;
    const third = mutex.run('k', async () => {
      thirdRan = true;
    });
    controller.abort();
    await expect(waiter).rejects.toMatchObject({ code: 'ABORTED' });
    await tick();
    expect(thirdRan).toBe(false); // still behind the holder
    release();
    await holder;
    await third;
    expect(thirdRan).toBe(true);
  });
});

describe('Locks', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('locks')));
  afterEach(() => remove());

  it('holds a lock directory nova-<name> while the function runs and removes it after', async () => {
    const locks = new Locks({ lockPath: join(dir, 'locks') });
    const seen = await locks.synchronized('abc', async () => readdir(join(dir, 'locks')));
    expect(seen).toEqual(['nova-abc']);
    expect(await readdir(join(dir, 'locks'))).toEqual([]);
    expect(locks.lockFile('abc')).toBe(join(dir, 'locks', 'nova-abc'));
  });

  it('excludes callers across Locks objects of one folder, and returns what the function returns', async () => {
    const a = new Locks({ lockPath: dir });
    const b = new Locks({ lockPath: dir });
    let inside = 0;
    let maxInside = 0;
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        (i % 2 ? a : b).synchronized('same', async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await tick();
          inside--;
          return i;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(results).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it('releases the lock when the function throws, rethrowing its error', async () => {
    const locks = new Locks({ lockPath: dir });
    await expect(locks.synchronized('x', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await readdir(dir)).toEqual([]);
    await expect(locks.synchronized('x', async () => 1)).resolves.toBe(1);
  });

  it('waits for a lock another holder has, and times out with LOCK_TIMEOUT', async () => {
    // A fresh lock directory as another process would hold it.
    await mkdir(join(dir, 'nova-busy'));
    const locks = new Locks({ lockPath: dir, timeoutMs: 300 });
    const started = Date.now();
    const error = await locks.synchronized('busy', async () => 'ran').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageBackendError);
    expect(error).toMatchObject({ code: 'LOCK_TIMEOUT', path: join(dir, 'nova-busy') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    // It was not ours: it is still there.
    expect((await stat(join(dir, 'nova-busy'))).isDirectory()).toBe(true);
  });

  it('takes the lock as soon as the holder lets go', async () => {
    await mkdir(join(dir, 'nova-soon'));
    setTimeout(() => void rm(join(dir, 'nova-soon'), { recursive: true }), 200);
    const locks = new Locks({ lockPath: dir, timeoutMs: 5000 });
    await expect(locks.synchronized('soon', async () => 'ran')).resolves.toBe('ran');
  });

  it('takes over a stale lock (a holder that stopped refreshing it)', async () => {
    await mkdir(join(dir, 'nova-stale'));
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'nova-stale'), old, old);
    const locks = new Locks({ lockPath: dir, staleMs: 10_000, timeoutMs: 1000 });
    await expect(locks.synchronized('stale', async () => 'ran')).resolves.toBe('ran');
  });

  it('stops waiting on abort with ABORTED', async () => {
    await mkdir(join(dir, 'nova-held'));
    const locks = new Locks({ lockPath: dir });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    await expect(locks.synchronized('held', async () => 'ran', { signal: controller.signal })).rejects.toMatchObject({
      code: 'ABORTED',
    });
  });

  it('reports a lock lost while held: the signal fires and the call rejects with LOCK_COMPROMISED', async () => {
    const locks = new Locks({ lockPath: dir, staleMs: 2000, updateMs: 1000 });
    let aborted = false;
    const error = await locks
      .synchronized('lost', async ({ signal }) => {
        // Another process judged it stale and took it over: the directory is
        // replaced by one with another mtime.
        await rm(join(dir, 'nova-lost'), { recursive: true });
        await mkdir(join(dir, 'nova-lost'));
        const other = new Date(Date.now() + 5000);
        await utimes(join(dir, 'nova-lost'), other, other);
        await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
        aborted = signal.aborted;
        return 'finished anyway';
      })
      .catch((e: unknown) => e);
    expect(aborted).toBe(true);
    expect(error).toMatchObject({ code: 'LOCK_COMPROMISED', path: join(dir, 'nova-lost') });
  });

  it('validates names and options with the one message template', () => {
    const locks = new Locks({ lockPath: dir });
    expect(() => locks.lockFile('../escape')).toThrow("Expected a lock name (one file name) for name but received '../escape'");
    expect(() => locks.lockFile('')).toThrow(/INVALID|Expected/);
    expect(() => new Locks({ lockPath: '' })).toThrow("Expected a folder path for lockPath but received ''");
    expect(() => new Locks({ lockPath: dir, staleMs: 500 })).toThrow(/staleMs/);
    expect(() => new Locks({ lockPath: dir, staleMs: 4000, updateMs: 3000 })).toThrow(/updateMs/);
  });
});
