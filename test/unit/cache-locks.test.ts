import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readdir, readlink, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyedMutex, Locks } from '../../src/cache/index.js';
import { ImageBackendError } from '../../src/errors.js';
import { tempDir } from './helpers/system.js';

const tick = () => new Promise((r) => setTimeout(r, 5));

// Another process's lock as nova takes it: Python's fcntl.lockf, a POSIX
// record lock over the whole file (what fasteners/oslo.concurrency call).
// Exit 0: got it (and let go); 1: busy. The real nova is in nova-locks.test.ts.
function otherProcessCanLock(file: string, kind: 'LOCK_EX' | 'LOCK_SH'): boolean {
  const r = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      `import fcntl, sys\nf = open(sys.argv[1], 'a' if sys.argv[2] == 'LOCK_EX' else 'r')\ntry:\n    fcntl.lockf(f, getattr(fcntl, sys.argv[2]) | fcntl.LOCK_NB)\nexcept OSError:\n    sys.exit(1)`,
      file,
      kind,
    ],
    { encoding: 'utf8' },
  );
  if (r.status !== 0 && r.status !== 1) throw new Error(`lock probe failed: ${r.stderr}`);
  return r.status === 0;
}

// Holds a POSIX lock (as nova does) until its stdin closes.
function holdInOtherProcess(file: string): { ready: Promise<void>; release: () => Promise<void> } {
  const child = spawn(
    '/usr/bin/python3',
    ['-c', `import fcntl, sys\nf = open(sys.argv[1], 'a')\nfcntl.lockf(f, fcntl.LOCK_EX)\nprint('locked', flush=True)\nsys.stdin.read()`, file],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', () => resolve());
    void closed.then(() => reject(new Error('lock holder ended early')));
  });
  return {
    ready,
    release: async () => {
      child.stdin.end();
      await closed;
    },
  };
}


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
  it('runs shared callers of one key together, and an exclusive caller alone', async () => {
    const mutex = new KeyedMutex();
    let readers = 0;
    let maxReaders = 0;
    let writerSawReaders = -1;
    const read = () =>
      mutex.run(
        'k',
        async () => {
          readers++;
          maxReaders = Math.max(maxReaders, readers);
          await tick();
          readers--;
        },
        { shared: true },
      );
    await Promise.all([
      read(),
      read(),
      read(),
      mutex.run('k', async () => {
        writerSawReaders = readers;
      }),
    ]);
    expect(maxReaders).toBe(3);
    expect(writerSawReaders).toBe(0);
    expect(mutex.size).toBe(0);
  });

  it('makes shared callers that arrive after a waiting exclusive one wait for it (no writer starvation)', async () => {
    const mutex = new KeyedMutex();
    const events: string[] = [];
    let releaseFirst!: () => void;
    const first = mutex.run('k', () => new Promise<void>((r) => (releaseFirst = r)), { shared: true });
    const writer = mutex.run('k', async () => void events.push('writer'));
    const late = mutex.run('k', async () => void events.push('late reader'), { shared: true });
    await tick();
    expect(events).toEqual([]);
    releaseFirst();
    await Promise.all([first, writer, late]);
    expect(events).toEqual(['writer', 'late reader']);
  });

  it('lets shared callers queued behind an aborted exclusive one run', async () => {
    const mutex = new KeyedMutex();
    let releaseFirst!: () => void;
    const first = mutex.run('k', () => new Promise<void>((r) => (releaseFirst = r)), { shared: true });
    const controller = new AbortController();
    const writer = mutex.run('k', async () => 'wrote', { signal: controller.signal });
    let lateRan = false;
    const late = mutex.run('k', async () => void (lateRan = true), { shared: true });
    await tick();
    expect(lateRan).toBe(false);
    controller.abort();
    await expect(writer).rejects.toMatchObject({ code: 'ABORTED' });
    await late;
    expect(lateRan).toBe(true); // while the first reader still holds the key
    releaseFirst();
    await first;
    expect(mutex.size).toBe(0);
  });
});


describe('Locks', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('locks')));
  afterEach(() => remove());

  it('locks the file nova-<name> (created on demand) and leaves it in place, as nova does', async () => {
    const locks = new Locks({ lockPath: join(dir, 'locks') });
    const file = join(dir, 'locks', 'nova-abc');
    expect(locks.lockFile('abc')).toBe(file);
    const inside = await locks.synchronized('abc', async () => ({
      isFile: (await stat(file)).isFile(),
      otherCanLock: otherProcessCanLock(file, 'LOCK_EX'),
    }));
    expect(inside).toEqual({ isFile: true, otherCanLock: false });
    expect(await readdir(join(dir, 'locks'))).toEqual(['nova-abc']);
    expect(otherProcessCanLock(file, 'LOCK_EX')).toBe(true);
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

  it('lets shared holders run together and excludes an exclusive one, here and in other processes', async () => {
    const locks = new Locks({ lockPath: dir });
    const file = locks.lockFile('base');
    let readers = 0;
    let maxReaders = 0;
    const seen: Array<{ ex: boolean; sh: boolean }> = [];
    const read = () =>
      locks.synchronized(
        'base',
        async () => {
          readers++;
          maxReaders = Math.max(maxReaders, readers);
          await new Promise((r) => setTimeout(r, 50));
          seen.push({ ex: otherProcessCanLock(file, 'LOCK_EX'), sh: otherProcessCanLock(file, 'LOCK_SH') });
          readers--;
        },
        { shared: true },
      );
    let writerSawReaders = -1;
    await Promise.all([read(), read(), locks.synchronized('base', async () => void (writerSawReaders = readers)), read()]);
    expect(maxReaders).toBe(2); // the third reader arrived after the writer: it waited for it
    expect(writerSawReaders).toBe(0);
    // Another process can share a shared lock, never take it exclusively.
    expect(seen).toEqual([
      { ex: false, sh: true },
      { ex: false, sh: true },
      { ex: false, sh: true },
    ]);
  });

  it('gives the shared holders of one process one fcntl lock: the first takes it, the last releases it', async () => {
    const locks = new Locks({ lockPath: dir });
    const file = locks.lockFile('base');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let inside = 0;
    const holders = Array.from({ length: 50 }, () =>
      locks.synchronized(
        'base',
        async () => {
          inside++;
          await gate;
          return inside;
        },
        { shared: true },
      ),
    );
    while (inside < 50) await tick();
    // One descriptor of this process has the lock file open.
    const fds = await readdir('/proc/self/fd');
    const open = (await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')))).filter((t) => t === file);
    expect(open).toHaveLength(1);
    expect(otherProcessCanLock(file, 'LOCK_EX')).toBe(false);
    expect(otherProcessCanLock(file, 'LOCK_SH')).toBe(true);
    release();
    expect(await Promise.all(holders)).toHaveLength(50);
    expect(otherProcessCanLock(file, 'LOCK_EX')).toBe(true);
  });

  it('lets the shared holders that joined a wait go on waiting when the caller who started it gives up', async () => {
    const locks = new Locks({ lockPath: dir });
    const file = locks.lockFile('joined');
    const holder = holdInOtherProcess(file);
    await holder.ready;
    const first = new AbortController();
    const a = locks.synchronized('joined', async () => 'a', { shared: true, signal: first.signal }).catch((e: unknown) => e);
    const b = locks.synchronized('joined', async () => 'b', { shared: true });
    await new Promise((r) => setTimeout(r, 100));
    first.abort();
    expect(await a).toMatchObject({ code: 'ABORTED' });
    await holder.release();
    expect(await b).toBe('b');
  });

  it('reports a lock file removed while shared holders run to each of them (LOCK_COMPROMISED)', async () => {
    const locks = new Locks({ lockPath: dir, updateMs: 100 });
    let removed!: () => void;
    const gone = new Promise<void>((r) => (removed = r));
    const results = await Promise.all(
      [0, 1, 2].map((i) =>
        locks
          .synchronized(
            'lost-shared',
            async () => {
              if (i === 0) {
                await rm(join(dir, 'nova-lost-shared'));
                removed();
              }
              await gone;
              return 'finished anyway';
            },
            { shared: true },
          )
          .catch((e: unknown) => e),
      ),
    );
    for (const r of results) expect(r).toMatchObject({ code: 'LOCK_COMPROMISED', path: join(dir, 'nova-lost-shared') });
  });

  it('waits for another process holding the lock, times out with LOCK_TIMEOUT, and proceeds once it lets go', async () => {
    const locks = new Locks({ lockPath: dir, timeoutMs: 400 });
    const file = locks.lockFile('busy');
    const holder = holdInOtherProcess(file);
    await holder.ready;
    try {
      for (const shared of [false, true]) {
        const started = Date.now();
        const error = await locks.synchronized('busy', async () => 'ran', { shared }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ImageBackendError);
        expect(error).toMatchObject({ code: 'LOCK_TIMEOUT', path: file });
        expect(Date.now() - started).toBeGreaterThanOrEqual(390);
      }
      const patient = new Locks({ lockPath: dir, timeoutMs: 30_000 });
      let ran = false;
      const waiting = patient.synchronized('busy', async () => void (ran = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(ran).toBe(false);
      await holder.release();
      await waiting;
      expect(ran).toBe(true);
    } finally {
      await holder.release();
    }
  });

  it('waits without a limit for a timeoutMs beyond the timer range (no overflow into an instant LOCK_TIMEOUT)', async () => {
    const locks = new Locks({ lockPath: dir, timeoutMs: 2 ** 32 });
    const holder = holdInOtherProcess(locks.lockFile('long'));
    await holder.ready;
    setTimeout(() => void holder.release(), 300);
    await expect(locks.synchronized('long', async () => 'ran')).resolves.toBe('ran');
  });

  it('does not let a child process spawned while holding keep the lock (close-on-exec)', async () => {
    const locks = new Locks({ lockPath: dir });
    const file = locks.lockFile('spawn');
    let child!: ReturnType<typeof spawn>;
    await locks.synchronized('spawn', async () => {
      child = spawn('sleep', ['30'], { stdio: 'ignore' });
      await new Promise((r) => child.once('spawn', r));
    });
    try {
      expect(otherProcessCanLock(file, 'LOCK_EX')).toBe(true);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('releases the lock when the function throws, rethrowing its error', async () => {
    const locks = new Locks({ lockPath: dir });
    await expect(locks.synchronized('x', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(otherProcessCanLock(locks.lockFile('x'), 'LOCK_EX')).toBe(true);
    await expect(locks.synchronized('x', async () => 1)).resolves.toBe(1);
  });

  it('treats a fresh lock directory of an older version as held, and leaves it', async () => {
    await mkdir(join(dir, 'nova-old'));
    const locks = new Locks({ lockPath: dir, timeoutMs: 300 });
    const error = await locks.synchronized('old', async () => 'ran').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'LOCK_TIMEOUT', path: join(dir, 'nova-old') });
    expect((await stat(join(dir, 'nova-old'))).isDirectory()).toBe(true);
  });

  it('takes the lock as soon as an older version removes its lock directory', async () => {
    await mkdir(join(dir, 'nova-soon'));
    setTimeout(() => void rm(join(dir, 'nova-soon'), { recursive: true }), 200);
    const locks = new Locks({ lockPath: dir, timeoutMs: 5000 });
    await expect(locks.synchronized('soon', async () => 'ran')).resolves.toBe('ran');
    expect((await stat(join(dir, 'nova-soon'))).isFile()).toBe(true);
  });

  it('migrates a stale lock directory of an older version to a lock file', async () => {
    await mkdir(join(dir, 'nova-stale'));
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'nova-stale'), old, old);
    const locks = new Locks({ lockPath: dir, staleMs: 10_000, timeoutMs: 1000 });
    const file = locks.lockFile('stale');
    await expect(locks.synchronized('stale', async () => otherProcessCanLock(file, 'LOCK_EX'))).resolves.toBe(false);
    expect((await stat(file)).isFile()).toBe(true);
  });

  it('refuses, and keeps, a stale directory with content: it is not a lock this library made', async () => {
    await mkdir(join(dir, 'nova-full'));
    await writeFile(join(dir, 'nova-full', 'data'), 'keep me');
    const old = new Date(Date.now() - 60_000);
    await utimes(join(dir, 'nova-full'), old, old);
    const locks = new Locks({ lockPath: dir, staleMs: 10_000, timeoutMs: 1000 });
    await expect(locks.synchronized('full', async () => 'ran')).rejects.toMatchObject({ code: 'LOCK_FAILED', path: join(dir, 'nova-full') });
    expect(await readdir(join(dir, 'nova-full'))).toEqual(['data']);
  });

  it('stops waiting on abort with ABORTED, while waiting in the process and for the file', async () => {
    const locks = new Locks({ lockPath: dir });
    const holder = holdInOtherProcess(locks.lockFile('held'));
    await holder.ready;
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      // One waits for the file lock, the second behind it in this process.
      const first = locks.synchronized('held', async () => 'ran', { signal: controller.signal });
      const second = locks.synchronized('held', async () => 'ran', { signal: controller.signal });
      // Both awaited at once: either may reject first, and one left unawaited meanwhile is an unhandled rejection.
      await Promise.all([expect(first).rejects.toMatchObject({ code: 'ABORTED' }), expect(second).rejects.toMatchObject({ code: 'ABORTED' })]);
    } finally {
      await holder.release();
    }
  });

  it('reports a lock file removed or replaced while held: the signal fires and the call rejects with LOCK_COMPROMISED', async () => {
    const locks = new Locks({ lockPath: dir, updateMs: 100 });
    for (const replace of [false, true]) {
      let aborted = false;
      const error = await locks
        .synchronized('lost', async ({ signal }) => {
          // A cleaner (oslo's remove_external_lock_file) removed it: another
          // process could now lock a new file of the same name.
          if (replace) {
            await writeFile(join(dir, 'other'), '');
            await rename(join(dir, 'other'), join(dir, 'nova-lost'));
          } else {
            await rm(join(dir, 'nova-lost'));
          }
          await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
          aborted = signal.aborted;
          return 'finished anyway';
        })
        .catch((e: unknown) => e);
      expect(aborted).toBe(true);
      expect(error).toMatchObject({ code: 'LOCK_COMPROMISED', path: join(dir, 'nova-lost') });
    }
    // The file now at the path is not ours: it was not removed.
    expect((await stat(join(dir, 'nova-lost'))).isFile()).toBe(true);
  });

  it('removes the lock file on release with removeOnRelease, and still excludes many callers', async () => {
    const a = new Locks({ lockPath: dir, prefix: '.', removeOnRelease: true });
    const b = new Locks({ lockPath: dir, prefix: '.', removeOnRelease: true });
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 ? a : b).synchronized('private', async () => {
          inside++;
          maxInside = Math.max(maxInside, inside);
          await tick();
          inside--;
        }),
      ),
    );
    expect(maxInside).toBe(1);
    expect(await readdir(dir)).toEqual([]);
  });

  it('validates names and options with the one message template', async () => {
    const locks = new Locks({ lockPath: dir });
    expect(() => locks.lockFile('../escape')).toThrow("Expected a lock name (one file name) for name but received '../escape'");
    expect(() => locks.lockFile('')).toThrow(/INVALID|Expected/);
    expect(() => new Locks({ lockPath: '' })).toThrow("Expected a folder path for lockPath but received ''");
    expect(() => new Locks({ lockPath: dir, staleMs: 500 })).toThrow(/staleMs/);
    expect(() => new Locks({ lockPath: dir, updateMs: 10 })).toThrow(/updateMs/);
    await expect(locks.synchronized('x', async () => 1, { shared: 'yes' as unknown as boolean })).rejects.toThrow(
      "Expected a boolean for shared but received 'yes'",
    );
  });
});
