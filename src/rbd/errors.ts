import {
  AbortError,
  ImageBackendError,
  InvalidArgumentError,
  isNativeError,
  LibraryNotFoundError,
  RbdBusyError,
  RbdClosedError,
  RbdError,
  RbdExistsError,
  RbdNotFoundError,
  RbdPermissionError,
  RbdTimeoutError,
  type ErrorCode,
} from '../errors.js';

type RbdErrorClass = new (code: ErrorCode, message: string, details: object) => ImageBackendError;

// errno name -> the typed error a caller branches on.
const BY_ERRNO: Record<string, [ErrorCode, RbdErrorClass]> = {
  ENOENT: ['RBD_NOT_FOUND', RbdNotFoundError],
  EPERM: ['RBD_PERMISSION', RbdPermissionError],
  EACCES: ['RBD_PERMISSION', RbdPermissionError],
  EBUSY: ['RBD_BUSY', RbdBusyError],
  // rbd_remove of an image that still has snapshots (nova: ImageHasSnapshots).
  ENOTEMPTY: ['RBD_BUSY', RbdBusyError],
  EEXIST: ['RBD_EXISTS', RbdExistsError],
  ETIMEDOUT: ['RBD_TIMEOUT', RbdTimeoutError],
  ESHUTDOWN: ['RBD_CLOSED', RbdClosedError],
  ECANCELED: ['ABORTED', AbortError],
  // librados/librbd are not installed (the addon opens them on first use).
  ELIBACC: ['LIBRARY_NOT_FOUND', LibraryNotFoundError],
  // librbd's answer to a bad argument: a shrink without allowShrink, an
  // invalid layout (order, stripe unit), an out-of-range size.
  EINVAL: ['INVALID_ARGUMENT', InvalidArgumentError],
};

// The native layer's synchronous argument errors (wrong type, a bad name).
const ARGUMENT_CODES = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE']);

/**
 * Turns a native rejection into the library's typed error, keeping the errno,
 * the librbd function, the pool/image and the native error as `cause`. Errors
 * that are already typed pass through.
 */
export function toRbdError(error: unknown, operation: string): ImageBackendError {
  if (error instanceof ImageBackendError) return error;
  const argumentCode = (error as { code?: unknown } | null)?.code;
  if (error instanceof TypeError && typeof argumentCode === 'string' && ARGUMENT_CODES.has(argumentCode)) {
    return new InvalidArgumentError('INVALID_ARGUMENT', error.message, { operation, cause: error });
  }
  if (!isNativeError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new RbdError('RBD_ERROR', `${operation}: ${message}`, { operation, cause: error });
  }
  const errnoName = error.code ?? 'EIO';
  const [code, Class] = BY_ERRNO[errnoName] ?? ['RBD_ERROR', RbdError];
  return new Class(code, `${operation} failed: ${error.message}`, {
    operation,
    errno: error.errno,
    errnoName,
    syscall: error.syscall,
    pool: error.pool,
    image: error.image,
    snapshot: error.snapshot,
    path: error.path,
    cause: error,
  });
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
 */
export async function rbdCall<T>(operation: string, call: () => Promise<T>, boundMs?: number): Promise<T> {
  const site: { stack?: string } = {};
  Error.captureStackTrace(site, rbdCall);
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const pending = call();
    if (boundMs === undefined || boundMs <= 0) return await pending;
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(() => reject(deadlineError(operation, boundMs)), boundMs + DEADLINE_MARGIN_MS);
      pending.then(resolve, reject);
    });
  } catch (error) {
    let typed = toRbdError(error, operation);
    if (
      boundMs !== undefined &&
      boundMs > 0 &&
      isNativeError(error) &&
      !(typed instanceof RbdTimeoutError) &&
      typed.code !== 'ABORTED' &&
      performance.now() - started >= boundMs
    ) {
      typed = new RbdTimeoutError('RBD_TIMEOUT', `${operation} timed out after ${boundMs} ms (${error.message})`, {
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
  }
}

function deadlineError(operation: string, boundMs: number): RbdTimeoutError {
  return new RbdTimeoutError(
    'RBD_TIMEOUT',
    `${operation} timed out: no answer from the cluster within ${boundMs} ms (the call is abandoned)`,
    { operation, errno: -110, errnoName: 'ETIMEDOUT', syscall: 'deadline' },
  );
}
