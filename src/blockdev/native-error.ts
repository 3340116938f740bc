/**
 * Turns a rejection of the blockdev half of the addon into a typed
 * {@link ImageBackendError}: ENOENT is a missing disk, ECANCELED an abort, a
 * FIFO or other wrong file type UNSUPPORTED_FILE_TYPE,
 * argument TypeErrors are invalid arguments, the rest keep their errno.
 */
import {
  BlockDeviceError,
  CopyFailedError,
  DiskNotFoundError,
  ImageBackendError,
  InvalidArgumentError,
  UnsupportedFileTypeError,
  isNativeError,
} from '../errors.js';
import { abortError } from '../abort.js';

export function blockdevError(
  error: unknown,
  operation: string,
  kind: 'BLOCKDEV_FAILED' | 'COPY_FAILED' = 'BLOCKDEV_FAILED',
): ImageBackendError {
  if (error instanceof ImageBackendError) return error;
  if (error instanceof TypeError && (error as { code?: string }).code === 'ERR_INVALID_ARG_TYPE') {
    return new InvalidArgumentError('INVALID_ARGUMENT', error.message, { operation, cause: error });
  }
  if (!isNativeError(error)) {
    return new BlockDeviceError(kind, `${operation} failed: ${String(error)}`, { operation, cause: error });
  }
  const details = {
    operation,
    path: error.path,
    errno: error.errno,
    errnoName: error.code,
    syscall: error.syscall,
    cause: error,
  };
  if (error.code === 'ECANCELED') return abortError(operation, details);
  if (error.code === 'EINVAL' && error.syscall === 'filetype') {
    return new UnsupportedFileTypeError('UNSUPPORTED_FILE_TYPE', `${operation}: '${error.path}' ${error.detail ?? 'is not a regular file or block device'}`, details);
  }
  if (error.code === 'ENOENT') return new DiskNotFoundError('DISK_NOT_FOUND', `${operation}: ${error.message}`, details);
  if (kind === 'COPY_FAILED') return new CopyFailedError(kind, `${operation}: ${error.message}`, details);
  return new BlockDeviceError(kind, `${operation}: ${error.message}`, details);
}
