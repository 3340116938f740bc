/**
 * The error model: every failure the library reports is an {@link ImageBackendError}
 * with a stable `code`, the operation that failed, the object it concerned and,
 * where the failure came from the system or librbd, the errno (`errno`, `errnoName`,
 * `syscall`). The native error, when there was one, is kept as `cause`.
 *
 * @example
 * ```ts
 * try { await driver.size('missing') } catch (e) {
 *   if (e instanceof ImageBackendError && e.code === 'RBD_NOT_FOUND') { ... }
 * }
 * ```
 */

/** Stable error codes; new codes may be added, existing ones never change meaning. */
export type ErrorCode =
  | 'ABORTED'
  | 'BLOCKDEV_FAILED'
  | 'CACHE_FAILED'
  | 'COPY_FAILED'
  | 'DISK_INFO_READ_FAILED'
  | 'DISK_INFO_WRITE_FAILED'
  | 'DISK_NOT_FOUND'
  | 'FETCH_FAILED'
  | 'FILESYSTEM_RESIZE_FAILED'
  | 'FLAVOR_DISK_TOO_SMALL'
  | 'IMAGE_CHECKSUM_MISMATCH'
  | 'IMAGE_FORMAT_MISMATCH'
  | 'IMAGE_INVALID'
  | 'IMAGE_NOT_ACTIVE'
  | 'IMAGE_NOT_FOUND'
  | 'IMAGE_SERVICE_CONFLICT'
  | 'IMAGE_SERVICE_FAILED'
  | 'IMAGE_SERVICE_FORBIDDEN'
  | 'IMAGE_SERVICE_TIMEOUT'
  | 'IMAGE_SERVICE_UNAUTHORIZED'
  | 'IMAGE_SERVICE_UNAVAILABLE'
  | 'IMAGE_SIZE_MISMATCH'
  | 'IMAGE_TOO_LARGE'
  | 'IMAGE_UNACCEPTABLE'
  | 'IMAGE_UNSAFE'
  | 'INVALID_ARGUMENT'
  | 'INVALID_DISK_INFO'
  | 'IO_ERROR'
  | 'LIBRARY_NOT_FOUND'
  | 'LOCK_COMPROMISED'
  | 'LOCK_FAILED'
  | 'LOCK_TIMEOUT'
  | 'LVM_EXISTS'
  | 'LVM_FAILED'
  | 'LVM_NOT_CONFIGURED'
  | 'LVM_NOT_FOUND'
  | 'LVM_NO_SPACE'
  | 'NATIVE_LOAD_FAILED'
  | 'NOT_SUPPORTED'
  | 'QEMU_FAILED'
  | 'QEMU_TIMEOUT'
  | 'RBD_BUSY'
  | 'RBD_CLOSED'
  | 'RBD_AUTH_NOT_CONFIGURED'
  | 'RBD_ERROR'
  | 'RBD_EXISTS'
  | 'RBD_NOT_FOUND'
  | 'RBD_PERMISSION'
  | 'RBD_TIMEOUT'
  | 'TOOL_NOT_FOUND'
  | 'UNKNOWN_IMAGE_TYPE'
  | 'UNSUPPORTED_FILE_TYPE'
  | 'VOLUMES_NOT_REMOVED';

/** What an error concerned; absent fields did not apply. */
export interface ErrorDetails {
  /** The library operation that failed, e.g. `clone` or `inspect`. */
  operation?: string;
  /** The RBD pool concerned. */
  pool?: string;
  /** The RBD image concerned. */
  image?: string;
  /** The RBD snapshot concerned. */
  snapshot?: string;
  /** The file or device concerned. */
  path?: string;
  /** The LVM volume group concerned. */
  volumeGroup?: string;
  /** The LVM logical volume concerned. */
  logicalVolume?: string;
  /** Negative errno, as Node's system errors carry it. */
  errno?: number;
  /** The errno's symbolic name, e.g. `ENOENT`. */
  errnoName?: string;
  /** The system or librbd/librados function that failed, e.g. `rbd_open`. */
  syscall?: string;
  /** Set when an external program (qemu-img) failed: how it ended and what it said. */
  process?: ProcessFailure;
  /** The underlying error, kept as the error's `cause`. */
  cause?: unknown;
}

/** How an external program ended. */
export interface ProcessFailure {
  /** The argv that ran, program first (after any prlimit wrapper). */
  command: readonly string[];
  /** Its exit status, or null when a signal ended it. */
  exitCode: number | null;
  /** The signal that ended it, or null. */
  signal: NodeJS.Signals | null;
  /** Its standard error, trimmed. */
  stderr: string;
  /** The address-space or CPU-time limit stopped it. */
  resourceLimited: boolean;
  /** The wall-clock timeout stopped it. */
  timedOut: boolean;
}

/**
 * Base class of every error the library throws: branch on `code` (stable) or
 * on the subclass, read the context from `operation`, `pool`, `image`, `path`,
 * `errnoName`, `syscall`.
 *
 * @example
 * ```ts
 * try {
 *   await cluster.pool('vms').image('disk').remove();
 * } catch (e) {
 *   if (!(e instanceof ImageBackendError)) throw e;
 *   if (e.code === 'RBD_BUSY') await retryLater();
 *   else console.error(e.code, e.operation, e.errnoName, e.syscall, e.message);
 * }
 * ```
 */
export abstract class ImageBackendError extends Error {
  /** The stable error code; branch on this, not on the message. */
  readonly code: ErrorCode;
  /** The library operation that failed, e.g. `clone` or `inspect`. */
  readonly operation?: string;
  /** The RBD pool concerned. */
  readonly pool?: string;
  /** The RBD image concerned. */
  readonly image?: string;
  /** The RBD snapshot concerned. */
  readonly snapshot?: string;
  /** The file or device concerned. */
  readonly path?: string;
  /** The LVM volume group concerned. */
  readonly volumeGroup?: string;
  /** The LVM logical volume concerned. */
  readonly logicalVolume?: string;
  /** Negative errno, as Node's system errors carry it. */
  readonly errno?: number;
  /** The errno's symbolic name, e.g. `ENOENT`. */
  readonly errnoName?: string;
  /** The system or librbd/librados function that failed, e.g. `rbd_open`. */
  readonly syscall?: string;
  /** How the external program ended, when one failed (its stderr is here). */
  readonly process?: ProcessFailure;

  /**
   * The code every instance of this class carries. Each concrete subclass
   * declares its own, so a class and its code cannot disagree.
   */
  static readonly code: ErrorCode | undefined = undefined;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    const code = (new.target as { readonly code?: ErrorCode }).code;
    if (code === undefined) throw new TypeError(`${new.target.name} has no static code: construct one of its subclasses`);
    this.name = new.target.name;
    this.code = code;
    const { cause: _cause, ...rest } = details;
    Object.assign(this, rest);
  }
}

/**
 * The RBD image or snapshot does not exist (nova: ImageNotFound).
 *
 * @example
 * ```ts
 * const size = await driver.size(name).catch((e) => (e instanceof RbdNotFoundError ? 0n : Promise.reject(e)));
 * ```
 */
export class RbdNotFoundError extends ImageBackendError {
  static override readonly code = 'RBD_NOT_FOUND' as const;
}
/**
 * The cluster user lacks the capability for the operation (nova: Forbidden).
 *
 * @example
 * ```ts
 * try { await driver.clone(location, name) } catch (e) { if (e instanceof RbdPermissionError) await importInstead() }
 * ```
 */
export class RbdPermissionError extends ImageBackendError {
  static override readonly code = 'RBD_PERMISSION' as const;
}
/**
 * The image is in use: watchers, snapshots, or children (nova: ImageBusy).
 *
 * @example
 * ```ts
 * if (error instanceof RbdBusyError) await setTimeout(5000); // watchers or snapshots: retry later
 * ```
 */
export class RbdBusyError extends ImageBackendError {
  static override readonly code = 'RBD_BUSY' as const;
}
/**
 * The image or snapshot already exists.
 *
 * @example
 * ```ts
 * await image.create(size).catch((e) => { if (!(e instanceof RbdExistsError)) throw e });
 * ```
 */
export class RbdExistsError extends ImageBackendError {
  static override readonly code = 'RBD_EXISTS' as const;
}
/**
 * The cluster did not answer within the configured timeout.
 *
 * @example
 * ```ts
 * if (error instanceof RbdTimeoutError) log.warn(`cluster unreachable: ${error.syscall}`);
 * ```
 */
export class RbdTimeoutError extends ImageBackendError {
  static override readonly code = 'RBD_TIMEOUT' as const;
}
/**
 * The cluster connection was closed before the call.
 *
 * @example
 * ```ts
 * if (error instanceof RbdClosedError) cluster = await RbdCluster.connect(options);
 * ```
 */
export class RbdClosedError extends ImageBackendError {
  static override readonly code = 'RBD_CLOSED' as const;
}
/**
 * Any other librbd/librados failure.
 *
 * @example
 * ```ts
 * if (error instanceof RbdError) log.error(error.errnoName, error.syscall, error.pool, error.image);
 * ```
 */
export class RbdError extends ImageBackendError {
  static override readonly code = 'RBD_ERROR' as const;
}
/**
 * The cluster authenticates with cephx but no libvirt secret is configured
 * (`rbd.secretUuid`): a disk XML without `<auth>` would make libvirt hang at
 * start, so it is refused up front.
 *
 * @example
 * ```ts
 * if (error instanceof RbdAuthNotConfiguredError) console.error('set rbd.secretUuid (nova: rbd_secret_uuid)');
 * ```
 */
export class RbdAuthNotConfiguredError extends ImageBackendError {
  static override readonly code = 'RBD_AUTH_NOT_CONFIGURED' as const;
}
/**
 * The image cannot be used as asked (nova: ImageUnacceptable).
 *
 * @example
 * ```ts
 * if (error instanceof ImageUnacceptableError) return fallBackToImport(); // e.g. not cloneable
 * ```
 */
export class ImageUnacceptableError extends ImageBackendError {
  static override readonly code = 'IMAGE_UNACCEPTABLE' as const;
}
/**
 * The image's bytes are not a valid image of the format they claim (malformed header).
 *
 * @example
 * ```ts
 * const info = await inspect(path).catch((e) => { if (e instanceof ImageInvalidError) quarantine(path); throw e });
 * ```
 */
export class ImageInvalidError extends ImageBackendError {
  static override readonly code = 'IMAGE_INVALID' as const;
}
/**
 * The image is valid but refers to other files or is ambiguous; `reasons` says why.
 *
 * @example
 * ```ts
 * if (error instanceof ImageUnsafeError) console.error(error.reasons.join('; '));
 * ```
 */
export class ImageUnsafeError extends ImageBackendError {
  static override readonly code = 'IMAGE_UNSAFE' as const;
  /** One stable sentence per safety concern, e.g. `backing file: 'base.raw'` (see {@link ImageSafety.reasons}). */
  declare readonly reasons: readonly string[];
  constructor(message: string, details: ErrorDetails & { reasons: readonly string[] }) {
    super(message, details);
  }
}
/**
 * The image service (Glance) refused or failed a request: `IMAGE_NOT_FOUND`
 * (404), `IMAGE_SERVICE_UNAUTHORIZED` (401), `IMAGE_SERVICE_FORBIDDEN` (403),
 * `IMAGE_SERVICE_CONFLICT` (409), `IMAGE_SERVICE_UNAVAILABLE` (5xx, or no
 * connection), `IMAGE_SERVICE_TIMEOUT`, `IMAGE_SERVICE_FAILED` (any other
 * answer, or one that could not be read). An outage is never taken for
 * "cannot clone": only {@link ImageUnacceptableError} means fall back.
 *
 * @example
 * ```ts
 * if (error instanceof ImageServiceError) log.error(error.code, error.status, error.requestId);
 * ```
 */
export abstract class ImageServiceError extends ImageBackendError {
  /** The HTTP status, when the service answered. */
  declare readonly status?: number;
  /** The service's request id (`x-openstack-request-id`), for its logs. */
  declare readonly requestId?: string;
  /** The image concerned, when the request was about one. */
  declare readonly imageId?: string;
  constructor(message: string, details: ErrorDetails & { status?: number; requestId?: string; imageId?: string } = {}) {
    super(message, details);
  }
}
/** The image service has no such image (404, `IMAGE_NOT_FOUND`). @example `if (e instanceof ImageNotFoundError) return;` */
export class ImageNotFoundError extends ImageServiceError {
  static override readonly code = 'IMAGE_NOT_FOUND' as const;
}
/** The image service refused the token (401, `IMAGE_SERVICE_UNAUTHORIZED`). @example `if (e instanceof ImageServiceUnauthorizedError) await renewToken();` */
export class ImageServiceUnauthorizedError extends ImageServiceError {
  static override readonly code = 'IMAGE_SERVICE_UNAUTHORIZED' as const;
}
/** The image service forbade the request (403, `IMAGE_SERVICE_FORBIDDEN`). @example `if (e instanceof ImageServiceForbiddenError) log.warn(e.message);` */
export class ImageServiceForbiddenError extends ImageServiceError {
  static override readonly code = 'IMAGE_SERVICE_FORBIDDEN' as const;
}
/** The image service answered 409 (`IMAGE_SERVICE_CONFLICT`). @example `if (e instanceof ImageServiceConflictError) retryLater();` */
export class ImageServiceConflictError extends ImageServiceError {
  static override readonly code = 'IMAGE_SERVICE_CONFLICT' as const;
}
/** The image service is down or unreachable (5xx, no connection; `IMAGE_SERVICE_UNAVAILABLE`). @example `if (e instanceof ImageServiceUnavailableError) retryLater();` */
export class ImageServiceUnavailableError extends ImageServiceError {
  static override readonly code = 'IMAGE_SERVICE_UNAVAILABLE' as const;
}
/** The image service did not answer in time (`IMAGE_SERVICE_TIMEOUT`). @example `if (e instanceof ImageServiceTimeoutError) retryLater();` */
export class ImageServiceTimeoutError extends ImageServiceError {
  static override readonly code = 'IMAGE_SERVICE_TIMEOUT' as const;
}
/** Any other answer, or one that could not be read (`IMAGE_SERVICE_FAILED`). @example `if (e instanceof ImageServiceFailedError) log.error(e.status);` */
export class ImageServiceFailedError extends ImageServiceError {
  static override readonly code = 'IMAGE_SERVICE_FAILED' as const;
}

const IMAGE_SERVICE_ERRORS = {
  IMAGE_NOT_FOUND: ImageNotFoundError,
  IMAGE_SERVICE_UNAUTHORIZED: ImageServiceUnauthorizedError,
  IMAGE_SERVICE_FORBIDDEN: ImageServiceForbiddenError,
  IMAGE_SERVICE_CONFLICT: ImageServiceConflictError,
  IMAGE_SERVICE_UNAVAILABLE: ImageServiceUnavailableError,
  IMAGE_SERVICE_TIMEOUT: ImageServiceTimeoutError,
  IMAGE_SERVICE_FAILED: ImageServiceFailedError,
} as const;

/** The {@link ImageServiceError} subclass of `code`, for code that picks the code at run time (HTTP status mapping). */
export function imageServiceError(
  code: keyof typeof IMAGE_SERVICE_ERRORS,
  message: string,
  http: { status?: number; requestId?: string; imageId?: string },
  details: ErrorDetails = {},
): ImageServiceError {
  const defined = Object.fromEntries(Object.entries(http).filter(([, v]) => v !== undefined));
  return new IMAGE_SERVICE_ERRORS[code](message, { ...details, ...defined });
}
/**
 * An image was refused by the image pipeline (`fetchToRaw`) before it could
 * become a disk: `IMAGE_NOT_ACTIVE` (its record's status is not `active`),
 * `IMAGE_TOO_LARGE` (its virtual size exceeds the disk), `IMAGE_CHECKSUM_MISMATCH`
 * (the bytes do not hash to the record's `os_hash_value`/`checksum`),
 * `IMAGE_SIZE_MISMATCH` (fewer or more bytes than the record's `size`),
 * `IMAGE_FORMAT_MISMATCH` (the bytes are not the record's `disk_format`, or
 * qemu-img and the native inspector disagree). Nothing it wrote is left.
 *
 * @example
 * ```ts
 * if (error instanceof ImageRefusedError && error.code === 'IMAGE_CHECKSUM_MISMATCH') alertStorageTeam(error.imageId);
 * ```
 */
export abstract class ImageRefusedError extends ImageBackendError {
  /** The image concerned. */
  declare readonly imageId?: string;
  constructor(message: string, details: ErrorDetails & { imageId?: string } = {}) {
    super(message, details);
  }
}
/** The image's record is not `active` (`IMAGE_NOT_ACTIVE`). @example `if (e instanceof ImageNotActiveError) waitForUpload();` */
export class ImageNotActiveError extends ImageRefusedError {
  static override readonly code = 'IMAGE_NOT_ACTIVE' as const;
}
/** The image's virtual size exceeds the disk (`IMAGE_TOO_LARGE`). @example `if (e instanceof ImageTooLargeError) pickBiggerFlavor();` */
export class ImageTooLargeError extends ImageRefusedError {
  static override readonly code = 'IMAGE_TOO_LARGE' as const;
}
/** The bytes do not hash to the record's `os_hash_value`/`checksum` (`IMAGE_CHECKSUM_MISMATCH`). @example `if (e instanceof ImageChecksumMismatchError) alert(e.imageId);` */
export class ImageChecksumMismatchError extends ImageRefusedError {
  static override readonly code = 'IMAGE_CHECKSUM_MISMATCH' as const;
}
/** Fewer or more bytes than the record's `size` (`IMAGE_SIZE_MISMATCH`). @example `if (e instanceof ImageSizeMismatchError) retry();` */
export class ImageSizeMismatchError extends ImageRefusedError {
  static override readonly code = 'IMAGE_SIZE_MISMATCH' as const;
}
/** The bytes are not the record's `disk_format`, or qemu-img and the inspector disagree (`IMAGE_FORMAT_MISMATCH`). @example `if (e instanceof ImageFormatMismatchError) log.error(e.message);` */
export class ImageFormatMismatchError extends ImageRefusedError {
  static override readonly code = 'IMAGE_FORMAT_MISMATCH' as const;
}

const IMAGE_REFUSED_ERRORS = {
  IMAGE_NOT_ACTIVE: ImageNotActiveError,
  IMAGE_TOO_LARGE: ImageTooLargeError,
  IMAGE_CHECKSUM_MISMATCH: ImageChecksumMismatchError,
  IMAGE_SIZE_MISMATCH: ImageSizeMismatchError,
  IMAGE_FORMAT_MISMATCH: ImageFormatMismatchError,
} as const;

/** The {@link ImageRefusedError} subclass of `code`, for code that picks the code at run time. */
export function imageRefusedError(
  code: keyof typeof IMAGE_REFUSED_ERRORS,
  message: string,
  imageId: string | undefined,
  details: ErrorDetails = {},
): ImageRefusedError {
  return new IMAGE_REFUSED_ERRORS[code](message, imageId === undefined ? details : { ...details, imageId });
}
/**
 * A disk or image file (file or block device) does not exist (nova: DiskNotFound).
 *
 * @example
 * ```ts
 * if (error instanceof DiskNotFoundError) return undefined; // error.path is the missing disk
 * ```
 */
export class DiskNotFoundError extends ImageBackendError {
  static override readonly code = 'DISK_NOT_FOUND' as const;
}
/**
 * Any other system error while reading or writing an image file.
 *
 * @example
 * ```ts
 * if (error instanceof ImageIoError) log.error(`${error.errnoName} reading ${error.path}`);
 * ```
 */
export class ImageIoError extends ImageBackendError {
  static override readonly code = 'IO_ERROR' as const;
}
/**
 * The operation was aborted through its AbortSignal.
 *
 * @example
 * ```ts
 * await image.import(path, { signal }).catch((e) => { if (!(e instanceof AbortError)) throw e });
 * ```
 */
export class AbortError extends ImageBackendError {
  static override readonly code = 'ABORTED' as const;
}
/**
 * A block device or raw file operation (size, zero, discard, wipe, fallocate) failed.
 *
 * @example
 * ```ts
 * if (error instanceof BlockDeviceError) log.error(error.syscall, error.errnoName, error.path);
 * ```
 */
export class BlockDeviceError extends ImageBackendError {
  static override readonly code = 'BLOCKDEV_FAILED' as const;
}
/**
 * Copying raw disk data failed; a destination the copy created was removed.
 *
 * @example
 * ```ts
 * if (error instanceof CopyFailedError) await retryCopy(); // the partial destination is already gone
 * ```
 */
export class CopyFailedError extends ImageBackendError {
  static override readonly code = 'COPY_FAILED' as const;
}
/**
 * `qemu-img info` could not describe the disk, or its answer was unusable, or a
 * `disk.info` file holds something other than a `{path: format}` object of known
 * formats, or a caller tried to record a different format for a path already in
 * it (nova: InvalidDiskInfo).
 *
 * @example
 * ```ts
 * if (error instanceof InvalidDiskInfoError) refuseToBoot(instance); // never re-probe the format
 * ```
 */
export class InvalidDiskInfoError extends ImageBackendError {
  static override readonly code = 'INVALID_DISK_INFO' as const;
}
/**
 * qemu-img failed (`QEMU_FAILED`); its subclass {@link QemuImgTimeoutError}
 * (`QEMU_TIMEOUT`) is the run that passed its timeout.
 *
 * @example
 * ```ts
 * if (error instanceof QemuImgError) log.error(error.code, error.message); // QEMU_FAILED or QEMU_TIMEOUT
 * ```
 */
export class QemuImgError extends ImageBackendError {
  static override readonly code: 'QEMU_FAILED' | 'QEMU_TIMEOUT' = 'QEMU_FAILED';
}
/**
 * qemu-img ran past its wall-clock timeout and was killed (`QEMU_TIMEOUT`).
 *
 * @example
 * ```ts
 * if (error instanceof QemuImgTimeoutError) log.warn(`qemu-img stopped after the timeout: ${error.process?.command.join(' ')}`);
 * ```
 */
export class QemuImgTimeoutError extends QemuImgError {
  static override readonly code = 'QEMU_TIMEOUT' as const;
}
/**
 * Reading or writing disk.info failed (nova: DiskInfoReadWriteFail): the common
 * parent of {@link DiskInfoReadError} (`DISK_INFO_READ_FAILED`) and
 * {@link DiskInfoWriteError} (`DISK_INFO_WRITE_FAILED`); never thrown itself.
 *
 * @example
 * ```ts
 * if (error instanceof DiskInfoIoError) log.error(`${error.code}: ${error.errnoName} on ${error.path}`);
 * ```
 */
export abstract class DiskInfoIoError extends ImageBackendError {}
/**
 * Reading disk.info failed (`DISK_INFO_READ_FAILED`).
 *
 * @example
 * ```ts
 * if (error instanceof DiskInfoReadError) log.error(`cannot read ${error.path}: ${error.errnoName}`);
 * ```
 */
export class DiskInfoReadError extends DiskInfoIoError {
  static override readonly code = 'DISK_INFO_READ_FAILED' as const;
}
/**
 * Writing disk.info failed (`DISK_INFO_WRITE_FAILED`); the file was left as it was.
 *
 * @example
 * ```ts
 * if (error instanceof DiskInfoWriteError) log.error(`cannot write ${error.path}: ${error.errnoName}`);
 * ```
 */
export class DiskInfoWriteError extends DiskInfoIoError {
  static override readonly code = 'DISK_INFO_WRITE_FAILED' as const;
}
/**
 * A base image is larger than the disk asked for (nova: FlavorDiskSmallerThanImage).
 *
 * @example
 * ```ts
 * if (error instanceof FlavorDiskTooSmallError) reject(`image needs ${error.baseSize} bytes, flavor gives ${error.requestedSize}`);
 * ```
 */
export class FlavorDiskTooSmallError extends ImageBackendError {
  static override readonly code = 'FLAVOR_DISK_TOO_SMALL' as const;
  /** The base image's virtual size, bytes. */
  declare readonly baseSize: number;
  /** The disk size asked for (the flavor's), bytes. */
  declare readonly requestedSize: number;

  constructor(message: string, details: ErrorDetails & { baseSize: number; requestedSize: number }) {
    super(message, details);
  }
}
/**
 * A lock could not be taken (`LOCK_FAILED`: the lock folder is unusable); also
 * the parent of {@link LockTimeoutError} (`LOCK_TIMEOUT`) and
 * {@link LockCompromisedError} (`LOCK_COMPROMISED`).
 *
 * @example
 * ```ts
 * if (error instanceof LockError && error.code === 'LOCK_TIMEOUT') await retryLater();
 * ```
 */
export class LockError extends ImageBackendError {
  static override readonly code: 'LOCK_FAILED' | 'LOCK_TIMEOUT' | 'LOCK_COMPROMISED' = 'LOCK_FAILED';
}
/**
 * A lock was not free within the wait limit (`LOCK_TIMEOUT`).
 *
 * @example
 * ```ts
 * if (error instanceof LockTimeoutError) await retryLater(); // error.path is the busy lock file
 * ```
 */
export class LockTimeoutError extends LockError {
  static override readonly code = 'LOCK_TIMEOUT' as const;
}
/**
 * A lock was lost while held (`LOCK_COMPROMISED`): another holder took it over as stale.
 *
 * @example
 * ```ts
 * if (error instanceof LockCompromisedError) alert(`two holders of ${error.path}: check the lock folder's file system`);
 * ```
 */
export class LockCompromisedError extends LockError {
  static override readonly code = 'LOCK_COMPROMISED' as const;
}
/**
 * The base-image cache could not create, place or remove a base file (`CACHE_FAILED`).
 *
 * @example
 * ```ts
 * if (error instanceof CacheError) log.error(`image cache: ${error.message}`);
 * ```
 */
export class CacheError extends ImageBackendError {
  static override readonly code = 'CACHE_FAILED' as const;
}
/**
 * The caller's fetch function (what writes a base image into the cache) failed
 * with an error of its own (`FETCH_FAILED`); that error is the `cause`. Library
 * errors a fetch rejects with (an {@link AbortError}, a {@link QemuImgError}...)
 * pass through as they are.
 *
 * @example
 * ```ts
 * await cache.fetchOnce('base', { fetch }).catch((e) => {
 *   if (e instanceof FetchFailedError) log.error('download failed', e.cause);
 *   throw e;
 * });
 * ```
 */
export class FetchFailedError extends ImageBackendError {
  static override readonly code = 'FETCH_FAILED' as const;
}
/**
 * A required program (qemu-img, prlimit) is not installed.
 *
 * @example
 * ```ts
 * if (error instanceof ToolNotFoundError) console.error(error.message); // names the package to install
 * ```
 */
export class ToolNotFoundError extends ImageBackendError {
  static override readonly code = 'TOOL_NOT_FOUND' as const;
}
/**
 * An optional system library is not installed: librbd/librados (the RBD
 * classes and the rbd backend) or liblvm2cmd (the in-process LVM runner).
 * The addon opens them on first use, so everything else works without them;
 * the message names the package to install.
 *
 * @example
 * ```ts
 * try { await RbdCluster.connect({ cephConf }) } catch (e) {
 *   if (e instanceof LibraryNotFoundError) console.error(e.message); // "... apt-get install librbd1 librados2"
 * }
 * ```
 */
export class LibraryNotFoundError extends ImageBackendError {
  static override readonly code = 'LIBRARY_NOT_FOUND' as const;
}
/**
 * An argument was rejected before any work started.
 *
 * @example
 * ```ts
 * try { new BaseImageCache({ instancesPath: '' }) } catch (e) { if (e instanceof InvalidArgumentError) usage() }
 * ```
 */
export class InvalidArgumentError extends ImageBackendError {
  static override readonly code = 'INVALID_ARGUMENT' as const;
}
/**
 * An image type (nova's `images_type`) no registered backend answers to; the message names the valid ones.
 *
 * @example
 * ```ts
 * try { backend.image(instance, 'disk', 'ploop') } catch (e) { if (e instanceof UnknownImageTypeError) console.log(e.validTypes) }
 * ```
 */
export class UnknownImageTypeError extends ImageBackendError {
  static override readonly code = 'UNKNOWN_IMAGE_TYPE' as const;
  /** The types that are registered. */
  declare readonly validTypes: readonly string[];
  constructor(message: string, details: ErrorDetails & { validTypes: readonly string[] }) {
    super(message, details);
  }
}
/**
 * The backend cannot do this operation (nova's NotImplementedError), e.g. `flatten` on a qcow2 disk (`NOT_SUPPORTED`).
 *
 * @example
 * ```ts
 * await disk.flatten().catch((e) => { if (!(e instanceof NotSupportedError)) throw e });
 * ```
 */
export class NotSupportedError extends ImageBackendError {
  static override readonly code = 'NOT_SUPPORTED' as const;
}
/**
 * The path is not the kind of file the operation reads or writes (`UNSUPPORTED_FILE_TYPE`): a FIFO,
 * socket, directory or character device where a regular file (or, for raw disks, a block device) is
 * expected. Refused before any read, so a named pipe can never hang the call.
 *
 * @example
 * ```ts
 * await inspect(path).catch((e) => { if (e instanceof UnsupportedFileTypeError) log.warn(e.message); throw e });
 * ```
 */
export class UnsupportedFileTypeError extends ImageBackendError {
  static override readonly code = 'UNSUPPORTED_FILE_TYPE' as const;
}
/**
 * `resize2fs` could not grow a file system (`FILESYSTEM_RESIZE_FAILED`); `process` says how it ended.
 *
 * @example
 * ```ts
 * if (error instanceof FilesystemResizeError) log.warn('disk grown, file system not: the guest can resize it');
 * ```
 */
export class FilesystemResizeError extends ImageBackendError {
  static override readonly code = 'FILESYSTEM_RESIZE_FAILED' as const;
}
/**
 * An lvm2 command failed (`LVM_FAILED`); `process.stderr` holds lvm2's error messages.
 *
 * @example
 * ```ts
 * if (error instanceof LvmError) log.error(error.message); // carries lvm2's own messages
 * ```
 */
export class LvmError extends ImageBackendError {
  static override readonly code = 'LVM_FAILED' as const;
}
/**
 * The volume group or logical volume does not exist (`LVM_NOT_FOUND`).
 *
 * @example
 * ```ts
 * await driver.volumeInfo(path).catch((e) => (e instanceof LvmNotFoundError ? undefined : Promise.reject(e)));
 * ```
 */
export class LvmNotFoundError extends ImageBackendError {
  static override readonly code = 'LVM_NOT_FOUND' as const;
}
/**
 * The logical volume already exists (`LVM_EXISTS`).
 *
 * @example
 * ```ts
 * await driver.createVolume(vg, lv, size).catch((e) => { if (!(e instanceof LvmExistsError)) throw e });
 * ```
 */
export class LvmExistsError extends ImageBackendError {
  static override readonly code = 'LVM_EXISTS' as const;
}
/**
 * The volume group has too little free space for the volume (`LVM_NO_SPACE`).
 *
 * @example
 * ```ts
 * if (error instanceof LvmNoSpaceError) scheduler.reportFull(vg);
 * ```
 */
export class LvmNoSpaceError extends ImageBackendError {
  static override readonly code = 'LVM_NO_SPACE' as const;
}
/**
 * LVM images were asked for but no volume group is configured (`LVM_NOT_CONFIGURED`).
 *
 * @example
 * ```ts
 * if (error instanceof LvmNotConfiguredError) console.error('set lvm.volumeGroup (nova: images_volume_group)');
 * ```
 */
export class LvmNotConfiguredError extends ImageBackendError {
  static override readonly code = 'LVM_NOT_CONFIGURED' as const;
}
/**
 * Some volumes could not be removed (nova: VolumesNotRemoved). Every path was
 * tried; `failures` lists each one that failed with its error.
 *
 * @example
 * ```ts
 * if (error instanceof VolumesNotRemovedError) for (const f of error.failures) log.error(f.path, f.error.code);
 * ```
 */
export class VolumesNotRemovedError extends ImageBackendError {
  static override readonly code = 'VOLUMES_NOT_REMOVED' as const;
  /** Each volume that could not be removed, with the error that stopped it. */
  declare readonly failures: readonly {
    /** The volume's path as it was given (`/dev/<vg>/<lv>` or `<vg>/<lv>`). */
    path: string;
    /** Why it was not removed: an {@link LvmError} from `lvremove`, the error of clearing it first, or an invalid path. */
    error: ImageBackendError;
  }[];

  constructor(message: string, details: ErrorDetails & { failures: readonly { path: string; error: ImageBackendError }[] }) {
    super(message, details);
  }
}
/**
 * The native addon could not be loaded; the message names the cause and the fix.
 *
 * @example
 * ```ts
 * try { await inspect(path) } catch (e) { if (e instanceof NativeLoadError) console.error(e.message) } // cause and fix
 * ```
 */
export class NativeLoadError extends ImageBackendError {
  static override readonly code = 'NATIVE_LOAD_FAILED' as const;
}

/** The shape of errors the native addon rejects with. */
export interface NativeError extends Error {
  /** The errno's symbolic name, e.g. `ENOENT` (as Node's system errors). */
  code?: string;
  /** Negative errno of the failed call. */
  errno?: number;
  /** The system or librbd/librados function that failed, e.g. `rbd_open`. */
  syscall?: string;
  /** The RBD pool concerned. */
  pool?: string;
  /** The RBD image concerned. */
  image?: string;
  /** The RBD snapshot concerned. */
  snapshot?: string;
  /** The file or device concerned. */
  path?: string;
  /** Extra words from the native layer, e.g. why an image header is invalid. */
  detail?: string;
}

/**
 * True when `e` came from the native addon: an Error carrying the `syscall`
 * (and errno) of the call that failed, before it is mapped to an
 * {@link ImageBackendError}.
 *
 * @example
 * ```ts
 * if (isNativeError(e)) console.log(e.syscall, e.code, e.errno);
 * ```
 */
export function isNativeError(e: unknown): e is NativeError {
  return e instanceof Error && typeof (e as NativeError).syscall === 'string';
}

/**
 * One wording for argument errors, the same as the native layer's.
 *
 * @example
 * ```ts
 * throw invalidArgument('a non-empty string', 'pool', pool);
 * // InvalidArgumentError: Expected a non-empty string for pool but received 42
 * ```
 */
export function invalidArgument(what: string, name: string, received: unknown): InvalidArgumentError {
  return new InvalidArgumentError(
    `Expected ${what} for ${name} but received ${describe(received)}`,
  );
}

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === null || value === undefined || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}
