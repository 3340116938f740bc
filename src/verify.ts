/** Size verification of a base image against the disk asked for (nova's `verify_base_size`). */
import { FlavorDiskTooSmallError, invalidArgument } from './errors.js';

/** Context for the error message. */
export interface VerifyBaseSizeDetails {
  /** The base image's path, named in the error. */
  path?: string;
}

/**
 * Checks that a base image fits the disk asked for. `requestedSize` 0 or
 * undefined means "as large as the image" and always passes; otherwise a base
 * whose virtual size exceeds `requestedSize` is refused with
 * {@link FlavorDiskTooSmallError} (code `FLAVOR_DISK_TOO_SMALL`, carrying both
 * sizes), before any disk is created.
 *
 * @example
 * ```ts
 * verifyBaseSize(info.virtualSize, flavor.rootGb * 2 ** 30, { path: base });
 * ```
 */
export function verifyBaseSize(baseVirtualSize: number, requestedSize?: number, details: VerifyBaseSizeDetails = {}): void {
  if (!Number.isSafeInteger(baseVirtualSize) || baseVirtualSize < 0) {
    throw invalidArgument('a byte count', 'baseVirtualSize', baseVirtualSize);
  }
  if (requestedSize === undefined || requestedSize === 0) return;
  if (!Number.isSafeInteger(requestedSize) || requestedSize < 0) {
    throw invalidArgument('a byte count', 'requestedSize', requestedSize);
  }
  if (baseVirtualSize <= requestedSize) return;
  const where = details.path === undefined ? 'the base image' : details.path;
  throw new FlavorDiskTooSmallError(
    `${where} has a virtual size of ${baseVirtualSize} bytes, larger than the requested disk size of ${requestedSize} bytes`,
    { baseSize: baseVirtualSize, requestedSize, operation: 'verifyBaseSize', ...(details.path === undefined ? {} : { path: details.path }) },
  );
}
