import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { AbortError, ImageBackendError, LockCompromisedError, LockError, LockTimeoutError, invalidArgument } from '../errors.js';
import { checkFileName } from '../names.js';
import { messageOf, systemErrorDetails } from '../fsutil/errno.js';
import { KeyedMutex } from './KeyedMutex.js';

/** What a locked function receives. */
export interface LockContext {
  /**
   * Fires when the lock is lost while held (another process judged it stale and
   * took it over). Long work should stop and must not publish its result.
   */
  signal: AbortSignal;
}

/** Per-call options of {@link LockService.synchronized}. */
export interface SynchronizedOptions {
  /** Stops waiting for the lock (rejects with `ABORTED`); the held lock is not affected. */
  signal?: AbortSignal;
  /** Take the lock shared (many holders at once: readers of a base); default exclusive, which excludes shared and exclusive holders. */
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
   * ```
   */
  synchronized<T>(name: string, fn: (context: LockContext) => Promise<T>, options?: SynchronizedOptions): Promise<T>;
}

/** How {@link Locks} behaves. */
export interface LocksOptions {
  /** The lock folder, nova's `<instances_path>/locks`; created on demand. */
  lockPath: string;
  /** Prefix of each lock's name in the folder (nova: `nova-`). */
  prefix?: string;
  /**
   * A lock whose holder stopped refreshing it for this long is taken over:
   * the holder was killed. At least 2000 ms (proper-lockfile's floor). Default 20 s.
   */
  staleMs?: number;
  /** How often a holder refreshes its lock; at most `staleMs / 2`. Default 5 s. */
  updateMs?: number;
  /** How long to wait for a busy lock before `LOCK_TIMEOUT`. Default 1 hour (a large image download). */
  timeoutMs?: number;
}


// One in-process queue per lock file for the whole process, so two Locks
// objects on the same folder still exclude each other here.
const processMutex = new KeyedMutex();

/**
 * Named locks: an in-process mutex plus a lock directory
 * `<lockPath>/<prefix><name>` made with proper-lockfile (mkdir is atomic, also
 * on NFS). The holder refreshes the directory's mtime; a lock left by a killed
 * process goes stale after `staleMs` and the next caller takes it over. The
 * lock directory is removed on release and, through signal handlers, on
 * ordinary exit.
 *
 * @example
 * ```ts
 * const locks = new Locks({ lockPath: '/var/lib/nova/instances/locks' });
 * await locks.synchronized('9e881789030568a317fad9daae82c5b1c65e0d4a', async ({ signal }) => {
 *   // only one process on any host sharing the folder runs this at a time
 * });
 * ```
 */
export class Locks implements LockService {
  /** The lock folder, made absolute (nova: `<instances_path>/locks`). */
  readonly lockPath: string;
  /** Prefix of each lock directory's name; default `nova-`. */
  readonly prefix: string;
  /** Milliseconds without a refresh after which a lock is taken over as stale; default 20000. */
  readonly staleMs: number;
  /** Milliseconds between a holder's refreshes of its lock; default 5000. */
  readonly updateMs: number;
  /** Milliseconds to wait for a busy lock before `LOCK_TIMEOUT`; default 3600000 (1 hour). */
  readonly timeoutMs: number;

  constructor(options: LocksOptions) {
    if (typeof options?.lockPath !== 'string' || options.lockPath === '') {
      throw invalidArgument('a folder path', 'lockPath', options?.lockPath);
    }
    const prefix = options.prefix ?? 'nova-';
    if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]*$/.test(prefix)) {
      throw invalidArgument('a file name prefix', 'prefix', prefix);
    }
    this.lockPath = resolve(options.lockPath);
    this.prefix = prefix;
    this.staleMs = positive('staleMs', options.staleMs ?? 20_000, 2000);
    this.updateMs = positive('updateMs', options.updateMs ?? 5000, 1000);
    if (this.updateMs > this.staleMs / 2) throw invalidArgument(`at most staleMs / 2`, 'updateMs', this.updateMs);
    this.timeoutMs = positive('timeoutMs', options.timeoutMs ?? 3_600_000, 0);
  }

  /**
   * The lock directory for `name`.
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
   * Runs `fn` holding the lock `name`; returns what it returns. Rejects with a
   * {@link LockError}: `LOCK_TIMEOUT` when the lock stayed busy for `timeoutMs`,
   * `LOCK_FAILED` when the lock folder is unusable, `LOCK_COMPROMISED` when the
   * lock was lost while `fn` ran (then `context.signal` fired too).
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
    return processMutex.run(file, () => this.#holdExternal(file, fn, options.signal), options.signal);
  }

  async #holdExternal<T>(file: string, fn: (context: LockContext) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const lost = new AbortController();
    const release = await this.#acquire(file, lost, signal);
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await fn({ signal: lost.signal }) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    // A compromised lock was already released by proper-lockfile; then the
    // work ran without exclusion and its outcome cannot be trusted.
    if (lost.signal.aborted) throw lost.signal.reason as LockError;
    await release().catch(() => undefined);
    if (!outcome.ok) throw outcome.error;
    return outcome.value;
  }

  async #acquire(file: string, lost: AbortController, signal?: AbortSignal): Promise<() => Promise<void>> {
    try {
      await mkdir(this.lockPath, { recursive: true });
    } catch (error) {
      throw new LockError(`cannot create the lock folder: ${messageOf(error)}`, systemErrorDetails(error, 'lock', this.lockPath));
    }
    const deadline = Date.now() + this.timeoutMs;
    let delay = 20;
    for (;;) {
      if (signal?.aborted) throw abortError(file, signal.reason);
      try {
        return await lockfile.lock(file, {
          lockfilePath: file,
          realpath: false,
          stale: this.staleMs,
          update: this.updateMs,
          retries: 0,
          onCompromised: (error) =>
            lost.abort(
              new LockCompromisedError(`lost the lock ${file} while holding it: ${error.message}`, {
                operation: 'lock',
                path: file,
                cause: error,
              }),
            ),
        });
      } catch (error) {
        if ((error as { code?: string }).code !== 'ELOCKED') {
          throw new LockError(`cannot take the lock ${file}: ${messageOf(error)}`, systemErrorDetails(error, 'lock', file));
        }
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new LockTimeoutError(`the lock ${file} stayed busy for ${this.timeoutMs} ms`, { operation: 'lock', path: file });
      }
      try {
        await sleep(Math.min(delay, left), undefined, signal ? { signal } : undefined);
      } catch (error) {
        if (error instanceof ImageBackendError) throw error;
        throw abortError(file, signal?.reason);
      }
      delay = Math.min(delay * 2, 500) + Math.floor(Math.random() * 20);
    }
  }
}

function positive(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw invalidArgument(`a number of milliseconds of at least ${min}`, name, value);
  }
  return value;
}

function abortError(file: string, cause: unknown): AbortError {
  return new AbortError(`waiting for the lock ${file} was aborted`, { operation: 'lock', path: file, cause });
}
