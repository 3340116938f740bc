/**
 * Maps the image functions' native rejections to the error model. The native
 * layer reports a malformed image as errno EINVAL with syscall `inspect` (and
 * the parser's reason in `detail`), an unusable overlay argument as EINVAL
 * with syscall `qcow2_overlay`; everything else is a plain system error.
 */
import {
  DiskNotFoundError,
  ImageBackendError,
  ImageInvalidError,
  ImageIoError,
  InvalidArgumentError,
  isNativeError,
} from '../errors.js';

export function mapImageError(error: unknown, operation: string, path: string): ImageBackendError {
  if (error instanceof TypeError && (error as NodeJS.ErrnoException).code === 'ERR_INVALID_ARG_TYPE') {
    // The native argument check: same wording as invalidArgument().
    return new InvalidArgumentError(error.message, { operation, path, cause: error });
  }
  if (!isNativeError(error)) {
    const text = error instanceof Error ? error.message : String(error);
    return new ImageIoError(`${operation} '${path}' failed: ${text}`, { operation, path, cause: error });
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
    return new ImageInvalidError(`Image '${where}' is invalid: ${error.detail ?? 'malformed header'}`, details);
  }
  if (error.code === 'EINVAL' && error.syscall === 'qcow2_overlay') {
    return new InvalidArgumentError(`Cannot create overlay '${where}': ${error.detail ?? 'bad argument'}`, details);
  }
  if (error.code === 'ENOENT') {
    return new DiskNotFoundError(`Disk '${where}' not found (${error.syscall})`, details);
  }
  return new ImageIoError(`${operation} '${where}' failed: ${error.message}`, details);
}
