/**
 * Turns a rejection of the blockdev half of the addon into a typed
 * {@link ImageBackendError}: ENOENT is a missing disk, ECANCELED an abort,
 * argument TypeErrors are invalid arguments, the rest keep their errno.
 */
import {
  BlockDeviceError,
  CopyFailedError,
  DiskNotFoundError,
  ImageBackendError,
  InvalidArgumentError,
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
    return new InvalidArgumentError(error.message, { operation, cause: error });
  }
  if (!isNativeError(error)) {
    const Class = kind === 'COPY_FAILED' ? CopyFailedError : BlockDeviceError;
    return new Class(`${operation} failed: ${String(error)}`, { operation, cause: error });
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
  if (error.code === 'ENOENT') return new DiskNotFoundError(`${operation}: ${error.message}`, details);
  if (kind === 'COPY_FAILED') return new CopyFailedError(`${operation}: ${error.message}`, details);
  return new BlockDeviceError(`${operation}: ${error.message}`, details);
}
