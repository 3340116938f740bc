import { AbortError } from '../errors.js';

/** Per-call options of {@link KeyedMutex.run}. */
export interface KeyedMutexRunOptions {
  /** Stops waiting (rejects with `ABORTED`); a holder is not affected. */
  signal?: AbortSignal;
  /**
   * Run alongside other shared callers of the key (readers); an exclusive
   * caller (the default) runs alone. Default false.
   */
  shared?: boolean;
}

interface Waiter {
  shared: boolean;
  grant: () => void;
}

interface KeyState {
  /** Callers running now: shared ones, or one exclusive one. */
  sharedHolders: number;
  exclusiveHeld: boolean;
  /** Callers waiting, in arrival order. */
  queue: Waiter[];
}

/**
 * An in-process readers-writer mutex per key, first come first served:
 * exclusive callers of a key run one at a time; shared callers run together
 * unless an exclusive caller holds the key or arrived before them (so a stream
 * of readers cannot starve a writer). Different keys do not wait for each
 * other. Keys are forgotten when nobody holds or waits for them, so the map
 * does not grow.
 *
 * @example
 * ```ts
 * const mutex = new KeyedMutex();
 * await mutex.run('/var/lib/nova/instances/locks/nova-abc', async () => { ... });
 * await mutex.run('/var/lib/nova/instances/locks/nova-abc', async () => readBase(), { shared: true });
 * ```
 */
export class KeyedMutex {
  #keys = new Map<string, KeyState>();

  /** The number of keys currently held or waited for. */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * Runs `fn` once the key is free for it: exclusive callers wait for every
   * earlier caller of `key`, shared callers only for earlier exclusive ones.
   * When the signal fires while waiting, rejects with an `ABORTED` error and
   * leaves the queue intact. The third argument may be a bare `AbortSignal`
   * (the older form).
   *
   * @example
   * ```ts
   * const mutex = new KeyedMutex();
   * await mutex.run('instance-uuid', async () => writeDiskInfo(), { signal: AbortSignal.timeout(5000) });
   * ```
   */
  async run<T>(key: string, fn: () => Promise<T>, options?: KeyedMutexRunOptions | AbortSignal): Promise<T> {
    const { signal, shared = false } = options instanceof AbortSignal ? { signal: options } : (options ?? {});
    await this.#acquire(key, shared, signal);
    try {
      return await fn();
    } finally {
      this.#release(key, shared);
    }
  }

  #acquire(key: string, shared: boolean, signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(aborted(key, signal.reason));
    let state = this.#keys.get(key);
    if (!state) {
      state = { sharedHolders: 0, exclusiveHeld: false, queue: [] };
      this.#keys.set(key, state);
    }
    if (state.queue.length === 0 && canRun(state, shared)) {
      take(state, shared);
      return Promise.resolve();
    }
    const keyState = state;
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const index = keyState.queue.indexOf(waiter);
        if (index < 0) return; // already granted
        keyState.queue.splice(index, 1);
        reject(aborted(key, signal?.reason));
        // A queued exclusive caller leaving may let shared callers behind it run.
        this.#grant(key, keyState);
      };
      const waiter: Waiter = {
        shared,
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      keyState.queue.push(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  #release(key: string, shared: boolean): void {
    const state = this.#keys.get(key);
    if (!state) return;
    if (shared) state.sharedHolders--;
    else state.exclusiveHeld = false;
    this.#grant(key, state);
  }

  // Lets in every waiter at the head of the queue that may run now.
  #grant(key: string, state: KeyState): void {
    while (state.queue.length > 0 && canRun(state, state.queue[0]!.shared)) {
      const waiter = state.queue.shift()!;
      take(state, waiter.shared);
      waiter.grant();
    }
    if (state.queue.length === 0 && state.sharedHolders === 0 && !state.exclusiveHeld) this.#keys.delete(key);
  }
}

function canRun(state: KeyState, shared: boolean): boolean {
  if (state.exclusiveHeld) return false;
  return shared || state.sharedHolders === 0;
}

function take(state: KeyState, shared: boolean): void {
  if (shared) state.sharedHolders++;
  else state.exclusiveHeld = true;
}

function aborted(key: string, cause: unknown): AbortError {
  return new AbortError(`waiting for the lock ${key} was aborted`, { operation: 'lock', path: key, cause });
}
