import { ImageBackendError, isNativeError, RbdTimeoutError } from '../errors.js';
import { fromNative } from '../fromNative.js';

/**
 * The RBD classes' way into {@link fromNative}: the `rbd` errno table
 * (ENOENT is RBD_NOT_FOUND, EBUSY and ENOTEMPTY are RBD_BUSY, ...) lives in
 * src/fromNative.ts with the other domains'.
 */
/**
 * A native RBD rejection as the library's typed error (the `rbd` table of
 * {@link fromNative}).
 */
export function toRbdError(error: unknown, operation: string): ImageBackendError {
  return fromNative(error, { domain: 'rbd', operation });
}

/**
 * How much later than its op timeout a bounded call settles at the latest:
 * librados checks `rados_osd_op_timeout` only on its objecter tick (5 s), and
 * some librbd calls (rbd_clone3 against a dead cluster) never return at all.
 */
export const DEADLINE_MARGIN_MS = 1000;

/**
 * Runs a native call and rethrows its failure as a typed error whose stack is
 * the JavaScript caller's: the native rejection arrives from the event loop
 * with no caller on its stack, so the stack is captured before the call.
 *
 * With `boundMs` (the connection's op timeout), the call settles within
 * `boundMs + DEADLINE_MARGIN_MS` whatever librbd does: past that it rejects
 * with {@link RbdTimeoutError} and the native call is abandoned (it may still
 * complete later; its outcome is dropped). A failure that arrives after the
 * bound with another errno (librbd turns some timeouts into ENOENT or EIO) is
 * reported as the timeout it was, with the original as `cause`.
 *
 * With `enter` (a `SnapshotOpenGate` entry), the call starts only once
 * `enter` resolves, and the function it resolved to is called when the call
 * settles (or is abandoned at the bound). The bound counts from the start of
 * the call: time spent waiting at the gate is not the cluster's.
 */
export async function rbdCall<T>(
  operation: string,
  call: () => Promise<T>,
  boundMs?: number,
  enter?: () => Promise<() => void>,
): Promise<T> {
  const site: { stack?: string } = {};
  Error.captureStackTrace(site, rbdCall);
  const leave = enter ? await enter() : undefined;
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const pending = call();
    if (boundMs === undefined || boundMs <= 0) return await pending;
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => {
        const error = deadlineError(operation, boundMs);
        abandoned.set(error, pending);
        reject(error);
      }, boundMs + DEADLINE_MARGIN_MS);
      pending.then(resolve, reject);
    });
  } catch (error) {
    let typed = fromNative(error, { domain: 'rbd', operation });
    if (
      boundMs !== undefined &&
      boundMs > 0 &&
      isNativeError(error) &&
      !(typed instanceof RbdTimeoutError) &&
      typed.code !== 'ABORTED' &&
      performance.now() - started >= boundMs
    ) {
      typed = new RbdTimeoutError(`${operation} timed out after ${boundMs} ms (${error.message})`, {
        operation,
        errno: -110,
        errnoName: 'ETIMEDOUT',
        syscall: error.syscall,
        pool: error.pool,
        image: error.image,
        snapshot: error.snapshot,
        cause: error,
      });
    }
    if ((typed.cause === error || typed.cause === undefined) && site.stack) {
      typed.stack = `${typed.name}: ${typed.message}${site.stack.slice(site.stack.indexOf('\n'))}`;
    }
    throw typed;
  } finally {
    clearTimeout(timer);
    leave?.();
  }
}

// The native call behind each deadline error: librbd may still finish it after the caller was told it timed out.
const abandoned = new WeakMap<Error, Promise<unknown>>();

/**
 * The call an {@link rbdCall} deadline gave up on, when `error` is that
 * deadline's RBD_TIMEOUT: it settles if and when librbd answers after all
 * (a clone that completes once the cluster is back), so the caller can undo
 * what it did. Undefined for any other error.
 */
export function abandonedCall(error: unknown): Promise<unknown> | undefined {
  return error instanceof Error ? abandoned.get(error) : undefined;
}

function deadlineError(operation: string, boundMs: number): RbdTimeoutError {
  return new RbdTimeoutError(
    `${operation} timed out: no answer from the cluster within ${boundMs} ms (the call is abandoned)`,
    { operation, errno: -110, errnoName: 'ETIMEDOUT', syscall: 'deadline' },
  );
}
