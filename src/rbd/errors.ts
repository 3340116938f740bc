import {
  AbortError,
  ImageBackendError,
  isNativeError,
  RbdBusyError,
  RbdClosedError,
  RbdError,
  RbdExistsError,
  RbdNotFoundError,
  RbdPermissionError,
  RbdTimeoutError,
  type ErrorDetails,
} from '../errors.js';

type RbdErrorClass = new (message: string, details: ErrorDetails) => ImageBackendError;

// errno name -> the typed error a caller branches on.
const BY_ERRNO: Record<string, RbdErrorClass> = {
  ENOENT: RbdNotFoundError,
  EPERM: RbdPermissionError,
  EACCES: RbdPermissionError,
  EBUSY: RbdBusyError,
  // rbd_remove of an image that still has snapshots (nova: ImageHasSnapshots).
  ENOTEMPTY: RbdBusyError,
  EEXIST: RbdExistsError,
  ETIMEDOUT: RbdTimeoutError,
  ESHUTDOWN: RbdClosedError,
  ECANCELED: AbortError,
};

/**
 * Turns a native rejection into the library's typed error, keeping the errno,
 * the librbd function, the pool/image and the native error as `cause`. Errors
 * that are already typed pass through.
 */
export function toRbdError(error: unknown, operation: string): ImageBackendError {
  if (error instanceof ImageBackendError) return error;
  if (!isNativeError(error)) {
    const message = error instanceof Error ? error.message : String(error);
    return new RbdError(`${operation}: ${message}`, { operation, cause: error });
  }
  const errnoName = error.code ?? 'EIO';
  const Class = BY_ERRNO[errnoName] ?? RbdError;
  return new Class(`${operation} failed: ${error.message}`, {
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
