/**
 * Maps the image functions' native rejections to the error model. The native
 * layer reports a malformed image as errno EINVAL with syscall `inspect` (and
 * the parser's reason in `detail`), an unusable overlay argument as EINVAL
 * with syscall `qcow2_overlay`, a path of the wrong type (a FIFO...) as
 * EINVAL with syscall `filetype`; everything else is a plain system error.
 */
import {
  DiskNotFoundError,
  ImageBackendError,
  ImageInvalidError,
  ImageIoError,
  InvalidArgumentError,
  UnsupportedFileTypeError,
  isNativeError,
} from '../errors.js';

export function mapImageError(error: unknown, operation: string, path: string): ImageBackendError {
  if (error instanceof TypeError && (error as NodeJS.ErrnoException).code === 'ERR_INVALID_ARG_TYPE') {
    // The native argument check: same wording as invalidArgument().
    return new InvalidArgumentError('INVALID_ARGUMENT', error.message, { operation, path, cause: error });
  }
  if (!isNativeError(error)) {
    const text = error instanceof Error ? error.message : String(error);
    return new ImageIoError('IO_ERROR', `${operation} '${path}' failed: ${text}`, { operation, path, cause: error });
  }
  const details = {
    operation,
    path: error.path ?? path,
    errno: error.errno,
    errnoName: error.code,
    syscall: error.syscall,
    cause: error,
  };
  const where = details.path;
  if (error.code === 'EINVAL' && error.syscall === 'inspect') {
    return new ImageInvalidError('IMAGE_INVALID', `Image '${where}' is invalid: ${error.detail ?? 'malformed header'}`, details);
  }
  if (error.code === 'EINVAL' && error.syscall === 'qcow2_overlay') {
    return new InvalidArgumentError('INVALID_ARGUMENT', `Cannot create overlay '${where}': ${error.detail ?? 'bad argument'}`, details);
  }
  if (error.code === 'EINVAL' && error.syscall === 'filetype') {
    return new UnsupportedFileTypeError('UNSUPPORTED_FILE_TYPE', `Image '${where}' ${error.detail ?? 'is not a regular file'}`, details);
  }
  if (error.code === 'ENOENT') {
    return new DiskNotFoundError('DISK_NOT_FOUND', `Disk '${where}' not found (${error.syscall})`, details);
  }
  return new ImageIoError('IO_ERROR', `${operation} '${where}' failed: ${error.message}`, details);
}
