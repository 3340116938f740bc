/**
 * The one mapping from a native (or Node system) rejection to the library's
 * typed errors: a small errno table per domain, one message shape per rule,
 * and the caller's stack kept (see {@link callNative}).
 */
import {
  AbortError,
  BlockDeviceError,
  DiskNotFoundError,
  ImageBackendError,
  ImageInvalidError,
  ImageIoError,
  InvalidArgumentError,
  isNativeError,
  LibraryNotFoundError,
  LvmError,
  RbdBusyError,
  RbdClosedError,
  RbdError,
  RbdExistsError,
  RbdNotFoundError,
  RbdPermissionError,
  RbdTimeoutError,
  UnsupportedFileTypeError,
  type ErrorDetails,
  type NativeError,
} from './errors.js';

/** Which part of the addon (or of Node) a failure came from; each has its own errno table. */
export type NativeDomain = 'rbd' | 'image' | 'blockdev' | 'lvm' | 'fs';

/** A concrete error class: its constructor takes `(message, details)`. */
export type ErrorClass = new (message: string, details: ErrorDetails) => ImageBackendError;

/** Where a native failure happened: the domain picks the errno table, the rest becomes the error's details. */
export interface NativeContext {
  /** Which errno table applies. */
  domain: NativeDomain;
  /** The library operation, e.g. `inspect` or `clone`; starts the message. */
  operation: string;
  /** The file or device concerned, when the native error does not name one. */
  path?: string;
  /** The RBD pool concerned, when the native error does not name one. */
  pool?: string;
  /** The RBD image concerned, when the native error does not name one. */
  image?: string;
  /** The class for an errno the table does not list (default: the domain's own, e.g. `BlockDeviceError`). */
  otherwise?: ErrorClass;
}

interface Rule {
  Class: ErrorClass;
  /** The message; without one, `<operation> failed: <native message>`. */
  message?: (operation: string, where: string | undefined, error: NativeError) => string;
}

// librados/librbd or liblvm2cmd are not installed: the addon opens them on
// first use, and the message names the package to install.
const libraryMissing: Rule = { Class: LibraryNotFoundError, message: (operation, _where, e) => `${operation}: ${e.detail ?? e.message}` };
// A FIFO, socket or directory where a regular file (or block device) must be.
const wrongFileType: Rule = {
  Class: UnsupportedFileTypeError,
  message: (operation, where, e) => `${operation}: '${where ?? '?'}' ${e.detail ?? 'is not a regular file or block device'}`,
};
const aborted: Rule = { Class: AbortError, message: (operation) => `${operation} was aborted` };
const diskNotFound: Rule = {
  Class: DiskNotFoundError,
  message: (_operation, where, error) => `Disk '${where ?? '?'}' not found (${error.syscall ?? 'open'})`,
};

// errno name (or `errno@syscall` for a rule only that native function earns) -> rule.
const TABLES: Record<NativeDomain, { rules: Record<string, Rule>; otherwise: ErrorClass }> = {
  rbd: {
    rules: {
      ENOENT: { Class: RbdNotFoundError },
      EPERM: { Class: RbdPermissionError },
      EACCES: { Class: RbdPermissionError },
      EBUSY: { Class: RbdBusyError },
      // rbd_remove of an image that still has snapshots (nova: ImageHasSnapshots).
      ENOTEMPTY: { Class: RbdBusyError },
      EEXIST: { Class: RbdExistsError },
      ETIMEDOUT: { Class: RbdTimeoutError },
      ESHUTDOWN: { Class: RbdClosedError },
      ECANCELED: aborted,
      ELIBACC: libraryMissing,
      // librbd's answer to a bad argument: a shrink without allowShrink, an
      // invalid layout (order, stripe unit), an out-of-range size.
      EINVAL: { Class: InvalidArgumentError },
    },
    otherwise: RbdError,
  },
  image: {
    rules: {
      // The header parser reports a malformed image as EINVAL from `inspect`, its reason in `detail`.
      'EINVAL@inspect': {
        Class: ImageInvalidError,
        message: (_op, where, e) => `Image '${where ?? '?'}' is invalid: ${e.detail ?? 'malformed header'}`,
      },
      'EINVAL@qcow2_overlay': {
        Class: InvalidArgumentError,
        message: (_op, where, e) => `Cannot create overlay '${where ?? '?'}': ${e.detail ?? 'bad argument'}`,
      },
      'EINVAL@filetype': wrongFileType,
      ENOENT: diskNotFound,
      ECANCELED: aborted,
    },
    otherwise: ImageIoError,
  },
  blockdev: { rules: { 'EINVAL@filetype': wrongFileType, ENOENT: diskNotFound, ECANCELED: aborted }, otherwise: BlockDeviceError },
  lvm: { rules: { ECANCELED: aborted, ELIBACC: libraryMissing }, otherwise: LvmError },
  fs: { rules: { ENOENT: diskNotFound, ABORT_ERR: aborted }, otherwise: ImageIoError },
};

// The native layer's synchronous argument errors (a wrong type, a bad name).
const ARGUMENT_CODES = new Set(['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE']);

/**
 * Turns a rejection of the native addon (or a Node system error) into the
 * library's typed error: the errno picks the class from the domain's table;
 * the errno, its name, the failed function (`syscall`), the pool/image/path
 * and the original error (as `cause`) are kept. Library errors pass through
 * unchanged; the native layer's argument TypeErrors become
 * {@link InvalidArgumentError}s.
 *
 * @example
 * ```ts
 * try { await native().imageInspect(path, {}) }
 * catch (e) { throw fromNative(e, { domain: 'image', operation: 'inspect', path }) }
 * ```
 */
export function fromNative(error: unknown, context: NativeContext): ImageBackendError {
  if (error instanceof ImageBackendError) return error;
  const { domain, operation, otherwise, ...where } = context;
  const table = TABLES[domain];
  if (error instanceof TypeError && ARGUMENT_CODES.has(String((error as { code?: unknown }).code))) {
    // The native argument check, worded as invalidArgument() words it.
    return new InvalidArgumentError(error.message, { operation, ...where, cause: error });
  }
  if (!isNativeError(error)) {
    const Class = (error as { name?: unknown } | undefined)?.name === 'AbortError' ? AbortError : (otherwise ?? table.otherwise);
    const text = error instanceof Error ? error.message : String(error);
    return new Class(Class === AbortError ? `${operation} was aborted` : `${operation} failed: ${text}`, {
      operation,
      ...where,
      cause: error,
    });
  }
  const errnoName = typeof error.code === 'string' ? error.code : 'EIO';
  const rule = table.rules[`${errnoName}@${error.syscall}`] ?? table.rules[errnoName] ?? { Class: otherwise ?? table.otherwise };
  const details: ErrorDetails = { operation, ...where, errnoName, syscall: error.syscall, cause: error };
  for (const key of ['pool', 'image', 'snapshot', 'path'] as const) {
    if (typeof error[key] === 'string') details[key] = error[key];
  }
  if (typeof error.errno === 'number') details.errno = error.errno;
  const message = rule.message ? rule.message(operation, details.path, error) : `${operation} failed: ${error.message}`;
  return new rule.Class(message, details);
}

/**
 * Runs a native call and rethrows its failure through {@link fromNative} with
 * the JavaScript caller's stack: a native rejection arrives from the event
 * loop with no caller on its stack, so the stack is captured before the call.
 *
 * @example
 * ```ts
 * const info = await callNative({ domain: 'image', operation: 'inspect', path }, () => native().imageInspect(path, {}));
 * ```
 */
export async function callNative<T>(context: NativeContext, call: () => Promise<T>): Promise<T> {
  const site: { stack?: string } = {};
  Error.captureStackTrace(site, callNative);
  try {
    return await call();
  } catch (error) {
    const typed = fromNative(error, context);
    // Only a fresh error gets the caller's stack: a library error passing through keeps its own.
    if (typed !== error && site.stack) {
      typed.stack = `${typed.name}: ${typed.message}${site.stack.slice(site.stack.indexOf('\n'))}`;
    }
    throw typed;
  }
}
