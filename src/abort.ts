/**
 * Bridges an `AbortSignal` to the addon's one cancellation mechanism, the
 * native `AbortHandle` that worker threads poll between chunks.
 */
import { AbortError } from './errors.js';
import { native, type NativeAbortHandle } from './native.js';

/** The error every aborted operation rejects with (code `ABORTED`). */
export function abortError(operation: string, details: { path?: string; cause?: unknown } = {}): AbortError {
  return new AbortError(`${operation}${details.path ? ` ${details.path}` : ''} was aborted`, { operation, ...details });
}

/**
 * Runs `run` with a native handle that is aborted when `signal` fires.
 * Rejects at once, without starting, when the signal is already aborted.
 *
 * @example
 * ```ts
 * await withAbortHandle(signal, 'copyRawData', (abort) => native().copyRaw(src, dst, { abort }));
 * ```
 */
export async function withAbortHandle<T>(
  signal: AbortSignal | undefined,
  operation: string,
  run: (abort: NativeAbortHandle | undefined) => Promise<T>,
): Promise<T> {
  if (!signal) return run(undefined);
  if (signal.aborted) throw abortError(operation, { cause: signal.reason });
  const handle = new (native().AbortHandle)();
  const onAbort = (): void => handle.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await run(handle);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
