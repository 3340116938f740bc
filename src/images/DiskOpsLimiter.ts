/**
 * nova's `max_concurrent_disk_ops`: a limit on how many disk-heavy operations
 * (downloads, converts, copies, imports) run at once on a host, the rest
 * waiting in order. Unlimited by default, like nova.
 */
import { abortError } from '../abort.js';
import { invalidArgument } from '../errors.js';

/**
 * A first-in, first-out counting semaphore for disk work. Share one per host
 * (or per Backend) and pass it to `fetchToRaw` and the backends.
 *
 * @example
 * ```ts
 * const diskOps = new DiskOpsLimiter(2); // nova: [DEFAULT] max_concurrent_disk_ops = 2
 * await diskOps.run(() => qemu.convert(src, dst, { srcFormat: 'qcow2', dstFormat: 'raw' }), { signal });
 * ```
 */
export class DiskOpsLimiter {
  /** The most operations at once; `Infinity` when unlimited. */
  readonly limit: number;
  #running = 0;
  readonly #waiting: { start: () => void }[] = [];

  /** `limit`: 0 (nova's default) or `Infinity` means unlimited. */
  constructor(limit = 0) {
    if (!(limit === Infinity || (Number.isSafeInteger(limit) && limit >= 0))) throw invalidArgument('a non-negative integer', 'limit', limit);
    this.limit = limit === 0 ? Infinity : limit;
  }

  /** Operations running now. */
  get running(): number {
    return this.#running;
  }

  /** Operations waiting for a turn. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Runs `operation` when a turn is free; an abort while waiting gives the
   * turn up and rejects with `ABORTED`.
   *
   * @example
   * ```ts
   * const bytes = await limiter.run(() => download(target), { signal });
   * ```
   */
  async run<T>(operation: () => Promise<T>, options: { signal?: AbortSignal; name?: string } = {}): Promise<T> {
    await this.#acquire(options.signal, options.name ?? 'disk operation');
    try {
      return await operation();
    } finally {
      this.#release();
    }
  }

  #acquire(signal: AbortSignal | undefined, name: string): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortError(name, { cause: signal.reason }));
    if (this.#running < this.limit) {
      this.#running++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const entry = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#running++;
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(entry);
        if (i >= 0) this.#waiting.splice(i, 1);
        reject(abortError(name, { cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(entry);
    });
  }

  #release(): void {
    this.#running--;
    this.#waiting.shift()?.start();
  }
}
