import { setMaxListeners } from 'node:events';
import { close, fstat } from 'node:fs';
import { rmdir, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { AbortError, LockCompromisedError, LockError, LockTimeoutError, invalidArgument } from '../errors.js';
import { checkFileName, checkFolderPath } from '../names.js';
import { errnoName, messageOf, systemErrorDetails } from '../fsutil/errno.js';
import { native } from '../native.js';
import { abortError } from '../abort.js';
import { KeyedMutex } from './KeyedMutex.js';
import { makeFolders } from '../fsutil/makeFolders.js';

const closeFd = promisify(close);
const fstatFd = promisify(fstat);

/** What a locked function receives. */
export interface LockContext {
  /**
   * Fires when the lock is lost while held: its lock file was removed or
   * replaced at its path (by hand, or by a cleaner such as oslo's
   * `remove_external_lock_file`), so another process can now take "the same"
   * lock on a new file. Long work should stop and must not publish its result.
   * A held fcntl lock itself cannot be taken over: it goes only when its
   * holder closes it or dies.
   */
  signal: AbortSignal;
}

/** Per-call options of {@link LockService.synchronized}. */
export interface SynchronizedOptions {
  /** Stops waiting for the lock (rejects with `ABORTED`); the held lock is not affected. */
  signal?: AbortSignal;
  /**
   * Hold the lock shared (a reader: many shared holders at once, in this and
   * other processes) instead of exclusive (the default: no other holder of
   * either kind). nova only ever takes the exclusive lock, so a nova process
   * excludes shared holders and is excluded by them. Default false.
   */
  shared?: boolean;
}

/**
 * Runs functions under a named lock that holds within this process and across
 * processes (and hosts) sharing the lock folder: nova's
 * `utils.synchronized(name, external=True, lock_path=...)`. Backends depend on
 * this interface, so tests can inject a fake.
 */
export interface LockService {
  /**
   * Runs `fn` while holding the lock `name`, in this process and across
   * processes sharing the lock folder; releases it when `fn` settles.
   *
   * @example
   * ```ts
   * await locks.synchronized('base-image-hash', async ({ signal }) => fetchBase(signal));
   * await locks.synchronized('base-image-hash', async () => makeOverlay(), { shared: true });
   * ```
   */
  synchronized<T>(name: string, fn: (context: LockContext) => Promise<T>, options?: SynchronizedOptions): Promise<T>;
}

/** How {@link Locks} behaves. */
export interface LocksOptions {
  /** The lock folder, nova's `<instances_path>/locks`; created on demand. */
  lockPath: string;
  /** Prefix of each lock file's name in the folder (nova: `nova-`). */
  prefix?: string;
  /**
   * Earlier versions of this library (0.1) locked with a directory of the lock's
   * name (proper-lockfile), refreshed by its holder. Such a directory is
   * treated as held while it was refreshed within this many milliseconds, and
   * removed (migrated to a lock file) once older. At least 2000. Default 20 s,
   * what those versions used.
   */
  staleMs?: number;
  /**
   * How often a holder checks that its lock file is still the one at its path
   * (see {@link LockContext.signal}). At least 100. Default 5 s.
   */
  updateMs?: number;
  /** How long to wait for a busy lock before `LOCK_TIMEOUT`. Default 1 hour (a large image download). */
  timeoutMs?: number;
  /**
   * Remove the lock file when an exclusive holder releases it. Only for lock
   * folders that no process other than this library's (of this version or
   * later) ever locks: a nova process waiting on a removed file would take a
   * lock that excludes nobody. Every holder of this library checks, after
   * locking, that the file it locked is still at its path. Default false
   * (nova leaves its lock files too).
   */
  removeOnRelease?: boolean;
}


// One in-process queue per lock file for the whole process, so two Locks
// objects on the same folder queue callers fairly here instead of each
// polling the file lock. It is not needed for exclusion (OFD locks of one
// process exclude each other) but it makes waiters in one process first come
// first served, and lets shared callers in one process run together.
const processMutex = new KeyedMutex();

/** This process's one fcntl read lock on a lock file, held while any of its shared callers runs. */
interface SharedLease {
  /** Settles when the lock is taken (or could not be). */
  ready: Promise<void>;
  held?: Held;
  holders: number;
  /** Fires when the lock file is removed or replaced while held. */
  lost: AbortController;
  watchdog?: ReturnType<typeof setInterval>;
}
const sharedLeases = new Map<string, SharedLease>();

// fasteners (nova's lock) polls at 10 ms, growing to 100 ms.
const FIRST_DELAY_MS = 10;
const MAX_DELAY_MS = 100;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** A held lock: the open lock file and the file it must stay. */
interface Held {
  fd: number;
  dev: bigint;
  ino: bigint;
}

/**
 * Named locks that interoperate with nova's (oslo.concurrency): a whole-file
 * fcntl lock on `<lockPath>/<prefix><name>`, the file nova locks with
 * `fcntl.lockf` for `utils.synchronized(name, external=True)`, so a nova
 * process and this library exclude each other on one host and, through NFS
 * byte-range locking, across hosts sharing the folder. The lock is an
 * open-file-description (OFD) lock, taken without blocking and polled with
 * backoff like nova's (abortable, no thread parked); exclusive by default,
 * shared (`F_RDLCK`) on request. The kernel releases it when the holder's
 * process dies, so there is no stale lock to recover; lock files stay in the
 * folder, as nova's do. An in-process readers-writer queue orders callers of
 * this process.
 *
 * @example
 * ```ts
 * const locks = new Locks({ lockPath: '/var/lib/nova/instances/locks' });
 * await locks.synchronized('9e881789030568a317fad9daae82c5b1c65e0d4a', async ({ signal }) => {
 *   // neither another process of this library nor nova-compute runs this now
 * });
 * ```
 */
export class Locks implements LockService {
  /** The lock folder, made absolute (nova: `<instances_path>/locks`). */
  readonly lockPath: string;
  /** Prefix of each lock file's name; default `nova-`. */
  readonly prefix: string;
  /** Milliseconds without a refresh after which an old version's lock directory is migrated; default 20000. */
  readonly staleMs: number;
  /** Milliseconds between a holder's checks that its lock file is still in place; default 5000. */
  readonly updateMs: number;
  /** Milliseconds to wait for a busy lock before `LOCK_TIMEOUT`; default 3600000 (1 hour). */
  readonly timeoutMs: number;
  /** Whether an exclusive holder removes the lock file on release; default false. */
  readonly removeOnRelease: boolean;

  constructor(options: LocksOptions) {
    checkFolderPath(options?.lockPath, 'lockPath');
    const prefix = options.prefix ?? 'nova-';
    if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]*$/.test(prefix)) {
      throw invalidArgument('a file name prefix', 'prefix', prefix);
    }
    this.lockPath = resolve(options.lockPath);
    this.prefix = prefix;
    this.staleMs = positive('staleMs', options.staleMs ?? 20_000, 2000);
    this.updateMs = positive('updateMs', options.updateMs ?? 5000, 100);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs ?? 3_600_000, 0);
    const removeOnRelease = options.removeOnRelease ?? false;
    if (typeof removeOnRelease !== 'boolean') throw invalidArgument('a boolean', 'removeOnRelease', removeOnRelease);
    this.removeOnRelease = removeOnRelease;
  }

  /**
   * The lock file for `name`.
   *
   * @example
   * ```ts
   * locks.lockFile('abc'); // '/var/lib/nova/instances/locks/nova-abc'
   * ```
   */
  lockFile(name: string): string {
    checkFileName(name, 'name', 'a lock name (one file name)');
    return join(this.lockPath, `${this.prefix}${name}`);
  }

  /**
   * Runs `fn` holding the lock `name` (exclusive, or shared with
   * `{ shared: true }`); returns what it returns. Rejects with a
   * {@link LockError}: `LOCK_TIMEOUT` when the lock stayed busy for
   * `timeoutMs` (waiting in this process included), `LOCK_FAILED` when the
   * lock folder or file is unusable, `LOCK_COMPROMISED` when the lock file was
   * removed or replaced while `fn` ran (then `context.signal` fired too); with
   * `ABORTED` when `options.signal` fired while waiting.
   *
   * @example
   * ```ts
   * const path = await locks.synchronized('disk.info-uuid', async () => recordFormat());
   * ```
   */
  async synchronized<T>(
    name: string,
    fn: (context: LockContext) => Promise<T>,
    options: SynchronizedOptions = {},
  ): Promise<T> {
    const file = this.lockFile(name);
    if (typeof fn !== 'function') throw invalidArgument('a function', 'fn', fn);
    const shared = options.shared ?? false;
    if (typeof shared !== 'boolean') throw invalidArgument('a boolean', 'shared', shared);

    // One signal for "stop waiting": the caller's, or the time limit.
    const waiting = new AbortController();
    let timedOut = false;
    // Beyond setTimeout's range (about 24.8 days) there is no time limit.
    const timer =
      this.timeoutMs <= MAX_TIMER_MS
        ? setTimeout(() => {
            timedOut = true;
            waiting.abort();
          }, this.timeoutMs)
        : undefined;
    const onAbort = () => waiting.abort(options.signal?.reason);
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const stopWaiting = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const waitError = (): LockError | AbortError =>
      timedOut
        ? new LockTimeoutError(`the lock ${file} stayed busy for ${this.timeoutMs} ms`, { operation: 'lock', path: file })
        : abortError('lock', { path: file, cause: options.signal?.reason });

    let acquired = false;
    try {
      return await processMutex.run(
        file,
        async () => {
          const onAcquired = () => {
            acquired = true;
            stopWaiting();
          };
          if (shared) return this.#holdShared(file, fn, waiting.signal, waitError, onAcquired);
          const held = await this.#acquire(file, false, waiting.signal, waitError);
          onAcquired();
          return this.#hold(file, held, false, fn);
        },
        { signal: waiting.signal, shared },
      );
    } catch (error) {
      // The in-process queue reports any end of waiting as ABORTED: say which.
      if (!acquired && timedOut && error instanceof AbortError) throw waitError();
      throw error;
    } finally {
      stopWaiting();
    }
  }

  /**
   * Runs fn under this process's one shared lease on `file`. The shared
   * callers of a file run together inside the process mutex's shared phase;
   * the first takes the fcntl read lock, the others join it, and the last to
   * leave releases it: 100 disks made from one base cost one lock, not 100.
   * Each holder still checks on leaving that the lock file stayed in place.
   */
  async #holdShared<T>(
    file: string,
    fn: (context: LockContext) => Promise<T>,
    waiting: AbortSignal,
    waitError: () => Error,
    onAcquired: () => void,
  ): Promise<T> {
    let lease: SharedLease;
    for (;;) {
      lease = sharedLeases.get(file) ?? this.#newLease(file, waiting, waitError);
      lease.holders++;
      try {
        await lease.ready;
        break;
      } catch (error) {
        lease.holders--;
        if (sharedLeases.get(file) === lease) sharedLeases.delete(file);
        // The wait that ended was the caller's who started the lease (its signal or its time limit): wait on our own.
        if (!waiting.aborted && (error instanceof AbortError || error instanceof LockTimeoutError)) continue;
        throw error;
      }
    }
    onAcquired();
    const held = lease.held!;
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await fn({ signal: lease.lost.signal }) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    if (!lease.lost.signal.aborted && !(await this.#stillInPlace(file, held))) lease.lost.abort(compromised(file));
    if (--lease.holders === 0) {
      if (sharedLeases.get(file) === lease) sharedLeases.delete(file);
      clearInterval(lease.watchdog);
      await this.#release(file, held, true);
    }
    if (lease.lost.signal.aborted) throw lease.lost.signal.reason as LockError;
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  #newLease(file: string, waiting: AbortSignal, waitError: () => Error): SharedLease {
    const lease: SharedLease = { holders: 0, lost: new AbortController(), ready: Promise.resolve() };
    // Every holder (100 disks from one base) listens to this one signal.
    setMaxListeners(0, lease.lost.signal);
    lease.ready = this.#acquire(file, true, waiting, waitError).then((held) => {
      lease.held = held;
      lease.watchdog = setInterval(() => {
        void this.#stillInPlace(file, held).then((inPlace) => {
          if (!inPlace && !lease.lost.signal.aborted) lease.lost.abort(compromised(file));
        });
      }, this.updateMs);
      lease.watchdog.unref();
    });
    // Joiners await it; a failure is handled by each of them.
    lease.ready.catch(() => undefined);
    sharedLeases.set(file, lease);
    return lease;
  }

  // Runs fn with the lock held, watching that the lock file stays in place.
  async #hold<T>(file: string, held: Held, shared: boolean, fn: (context: LockContext) => Promise<T>): Promise<T> {
    const lost = new AbortController();
    const watchdog = setInterval(() => {
      void this.#stillInPlace(file, held).then((inPlace) => {
        if (inPlace || lost.signal.aborted) return;
        lost.abort(compromised(file));
      });
    }, this.updateMs);
    watchdog.unref();
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await fn({ signal: lost.signal }) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    clearInterval(watchdog);
    if (!lost.signal.aborted && !(await this.#stillInPlace(file, held))) {
      lost.abort(compromised(file));
    }
    // Never remove a file that is no longer ours.
    await this.#release(file, held, shared || lost.signal.aborted);
    // Another process could have held "the same" lock meanwhile: the work
    // ran without exclusion and its outcome cannot be trusted.
    if (lost.signal.aborted) throw lost.signal.reason as LockError;
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  async #release(file: string, held: Held, keepFile: boolean): Promise<void> {
    // Removed while still locked, so a waiter that opened this file sees it
    // gone after locking and starts over on a new one (see lock.cc).
    if (this.removeOnRelease && !keepFile) await unlink(file).catch(() => undefined);
    // Closing the last descriptor of the open file releases the OFD lock. A
    // failing close (EIO on NFS) still frees the descriptor and the lock.
    await closeFd(held.fd).catch(() => undefined);
  }

  async #stillInPlace(file: string, held: Held): Promise<boolean> {
    try {
      const named = await stat(file, { bigint: true });
      return named.dev === held.dev && named.ino === held.ino;
    } catch (error) {
      // Only a missing file is a lost lock; a transient error (EIO on NFS) is not proof.
      return errnoName(error) !== 'ENOENT';
    }
  }

  // Polls the file lock until it is ours, the wait is over, or it fails.
  async #acquire(file: string, shared: boolean, waiting: AbortSignal, waitError: () => Error): Promise<Held> {
    try {
      await makeFolders(this.lockPath);
    } catch (error) {
      throw new LockError(`cannot create the lock folder: ${messageOf(error)}`, systemErrorDetails(error, 'lock', this.lockPath));
    }
    let delay = FIRST_DELAY_MS;
    for (;;) {
      let fd: number;
      try {
        fd = await native().fileLockTry(file, shared);
      } catch (error) {
        if (errnoName(error) === 'EISDIR' && (await this.#migrateDirectory(file))) continue;
        if (errnoName(error) !== 'EISDIR') {
          throw new LockError(`cannot take the lock ${file}: ${messageOf(error)}`, systemErrorDetails(error, 'lock', file));
        }
        fd = -1; // an old version's lock directory, still refreshed: busy
      }
      if (fd >= 0) return this.#describe(file, fd);
      if (waiting.aborted) throw waitError();
      try {
        await sleep(delay, undefined, { signal: waiting });
      } catch {
        throw waitError();
      }
      delay = Math.min(delay * 2, MAX_DELAY_MS) + Math.floor(Math.random() * 5);
    }
  }

  async #describe(file: string, fd: number): Promise<Held> {
    try {
      const s = await fstatFd(fd, { bigint: true });
      return { fd, dev: s.dev, ino: s.ino };
    } catch (error) {
      await closeFd(fd).catch(() => undefined);
      throw new LockError(`cannot take the lock ${file}: ${messageOf(error)}`, systemErrorDetails(error, 'lock', file));
    }
  }

  /**
   * A directory named like the lock file is an older version's
   * proper-lockfile lock. While its holder refreshes it (mtime within
   * `staleMs`) it is held; once stale it is removed so the lock file can take
   * its place. Returns true when the name may be tried again now.
   */
  async #migrateDirectory(file: string): Promise<boolean> {
    let mtimeMs: number;
    try {
      const s = await stat(file);
      if (!s.isDirectory()) return true;
      mtimeMs = s.mtimeMs;
    } catch (error) {
      if (errnoName(error) === 'ENOENT') return true;
      throw new LockError(`cannot take the lock ${file}: ${messageOf(error)}`, systemErrorDetails(error, 'lock', file));
    }
    if (Date.now() - mtimeMs < this.staleMs) return false;
    try {
      await rmdir(file);
      return true;
    } catch (error) {
      const name = errnoName(error);
      // Someone else migrated it first (now a file, or gone): try again.
      if (name === 'ENOENT' || name === 'ENOTDIR') return true;
      throw new LockError(name === 'ENOTEMPTY' || name === 'EEXIST'
          ? `${file} is a directory with content, not a lock this library made: remove it by hand`
          : `cannot remove the stale lock directory ${file}: ${messageOf(error)}`,
        systemErrorDetails(error, 'lock', file),
      );
    }
  }
}

function compromised(file: string): LockCompromisedError {
  return new LockCompromisedError(`the lock file ${file} was removed or replaced while the lock was held`, {
    operation: 'lock',
    path: file,
  });
}

function positive(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw invalidArgument(`a number of milliseconds of at least ${min}`, name, value);
  }
  return value;
}
