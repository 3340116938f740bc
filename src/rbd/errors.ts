import {
  AbortError,
  ImageBackendError,
  InvalidArgumentError,
  isNativeError,
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
 * Runs a native call and rethrows its failure as a typed error whose stack is
 * the JavaScript caller's: the native rejection arrives from the event loop
 * with no caller on its stack, so the stack is captured before the call.
 */
export async function rbdCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  const site: { stack?: string } = {};
  Error.captureStackTrace(site, rbdCall);
  try {
    return await call();
  } catch (error) {
    const typed = toRbdError(error, operation);
    if (typed.cause === error && site.stack) {
      typed.stack = `${typed.name}: ${typed.message}${site.stack.slice(site.stack.indexOf('\n'))}`;
    }
    throw typed;
  }
}
