import { AbortError } from '../errors.js';

/**
 * An in-process mutex per key: callers with the same key run one at a time, in
 * arrival order; different keys do not wait for each other. Keys are forgotten
 * when nobody holds or waits for them, so the map does not grow.
 *
 * @example
 * ```ts
 * const mutex = new KeyedMutex();
 * await mutex.run('/var/lib/nova/instances/locks/nova-abc', async () => { ... });
 * ```
 */
export class KeyedMutex {
  #tails = new Map<string, Promise<void>>();

  /** The number of keys currently held or waited for. */
  get size(): number {
    return this.#tails.size;
  }

  /**
   * Runs `fn` once every earlier caller with `key` has finished. When `signal`
   * fires while waiting, rejects with an `ABORTED` error and leaves the queue
   * intact.
   *
   * @example
   * ```ts
   * const mutex = new KeyedMutex();
   * await mutex.run('instance-uuid', async () => writeDiskInfo(), AbortSignal.timeout(5000));
   * ```
   */
  async run<T>(key: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.#tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = previous.then(() => mine);
    this.#tails.set(key, tail);
    try {
      await waitFor(previous, signal, key);
      return await fn();
    } finally {
      // Releasing early on abort is safe: the next caller waits for `previous`
      // through `tail` as well.
      release();
      void tail.then(() => {
        if (this.#tails.get(key) === tail) this.#tails.delete(key);
      });
    }
  }
}

async function waitFor(previous: Promise<void>, signal: AbortSignal | undefined, key: string): Promise<void> {
  if (!signal) return previous;
  if (signal.aborted) throw aborted(key, signal.reason);
  let onAbort!: () => void;
  const abort = new Promise<never>((_, reject) => {
    onAbort = () => reject(aborted(key, signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([previous, abort]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function aborted(key: string, cause: unknown): AbortError {
  return new AbortError(`waiting for the lock ${key} was aborted`, { operation: 'lock', path: key, cause });
}
