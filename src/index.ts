/**
 * imagebackend: disk-image backends for libvirt/KVM compute agents.
 *
 * The package root is the idiomatic API: the `Backend` and its disk
 * classes, the base-image cache, native image inspection and block-device
 * operations, qemu-img and lvm2 drivers, and Ceph RBD as
 * `RbdCluster` → `RbdPool` → `RbdImage`. Two documented
 * subpaths hold the rest:
 *
 * - `imagebackend/nova`: nova's `RBDDriver` surface (`RbdDriver`,
 *   its image-service `ImageLocation`, `parseRbdUrl`), under nova's names.
 * - `imagebackend/xml`: the small XML builder `LibvirtDiskConfig.toElement`
 *   returns, to embed a disk in a larger document.
 *
 * @example
 * ```ts
 * import { Backend, RbdCluster, inspect, ImageBackendError } from 'imagebackend';
 * import { RbdDriver } from 'imagebackend/nova';
 * ```
 *
 * @packageDocumentation
 */

// Errors: the base class, one class per code, and what they carry.
export {
  ImageBackendError,
  AbortError,
  BlockDeviceError,
  CacheError,
  CopyFailedError,
  DiskInfoIoError,
  DiskInfoReadError,
  DiskInfoWriteError,
  DiskNotFoundError,
  FetchFailedError,
  FilesystemResizeError,
  FlavorDiskTooSmallError,
  ImageInvalidError,
  ImageIoError,
  ImageUnacceptableError,
  ImageUnsafeError,
  ImageServiceError,
  ImageNotFoundError,
  ImageServiceUnauthorizedError,
  ImageServiceForbiddenError,
  ImageServiceConflictError,
  ImageServiceUnavailableError,
  ImageServiceTimeoutError,
  ImageServiceFailedError,
  ImageRefusedError,
  ImageNotActiveError,
  ImageTooLargeError,
  ImageChecksumMismatchError,
  ImageSizeMismatchError,
  ImageFormatMismatchError,
  RbdAuthNotConfiguredError,
  InvalidArgumentError,
  InvalidDiskInfoError,
  LockCompromisedError,
  LockError,
  LockTimeoutError,
  LvmError,
  LvmExistsError,
  LvmNoSpaceError,
  LvmNotConfiguredError,
  LvmNotFoundError,
  LibraryNotFoundError,
  NativeLoadError,
  NotSupportedError,
  QemuImgError,
  QemuImgTimeoutError,
  RbdBusyError,
  RbdClosedError,
  RbdError,
  RbdExistsError,
  RbdNotFoundError,
  RbdPermissionError,
  RbdTimeoutError,
  ToolNotFoundError,
  UnknownImageTypeError,
  UnsupportedFileTypeError,
  VolumesNotRemovedError,
  type ErrorCode,
  type ErrorDetails,
  type ProcessFailure,
} from './errors.js';

// Ceph RBD, one vocabulary: cluster, pool, image and what their calls return.
export { RbdCluster, type RbdConnectOptions, type RbdClusterStats, type LibrbdVersion } from './rbd/RbdCluster.js';
export { RbdPool, type RbdPoolStats, type RbdPoolUsage } from './rbd/RbdPool.js';
export type { RbdStreamImportOptions, RbdStreamImportResult } from './rbd/importStream.js';
export {
  RbdImage,
  type RbdLayout,
  type RbdImageStat,
  type RbdParentInfo,
  type RbdSnapshotInfo,
  type RbdTransferOptions,
  type RbdTransferResult,
  type RbdResizeOptions,
} from './rbd/RbdImage.js';
export type { MonitorAddress } from './rbd/monmap.js';

// Native image inspection and overlays.
export {
  inspect,
  assertSafe,
  DEFAULT_VMDK_ALLOWED_TYPES,
  type ImageFormat,
  type ImageInfo,
  type ImageSafety,
  type InspectOptions,
  type QemuProbeOptions,
} from './image/inspect.js';
export { createQcow2Overlay, type Qcow2OverlayOptions, type Qcow2OverlayResult } from './image/overlay.js';

// Block devices and raw files.
export * from './blockdev/index.js';

// qemu-img.
export {
  QemuImg,
  rbdFilename,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_LIMITS,
  supportsDirectIo,
  type RbdSource,
  type ConvertFromRbdOptions,
  type QemuImgOptions,
  type RbdInfoOptions,
  type ExplicitBacking,
  type Inspector,
  type ConvertOptions,
  type CreateOptions,
  type InfoOptions,
  type ResizeOptions,
  type ResourceLimits,
  type QemuImgInfo,
  type QemuImgSnapshot,
} from './qemu/index.js';

// The base-image cache, its manager and its locks.
export {
  BaseImageCache,
  ImageCacheManager,
  Locks,
  cacheFileName,
  parseBaseFileName,
  ephemeralFileExtension,
  ephemeralFileName,
  swapFileName,
  type BaseImageCacheOptions,
  type FetchFunction,
  type FetchOnceOptions,
  type FetchRequest,
  type BaseFile,
  type BaseFileKind,
  type BaseFileName,
  type ImageCacheManagerOptions,
  type HeaderInspector,
  type PrecacheFetch,
  type PrecacheImage,
  type PrecacheOptions,
  type PrecacheResult,
  type RemoveUnusedOptions,
  type RemoveUnusedReport,
  type LockContext,
  type LockService,
  type LocksOptions,
  type SynchronizedOptions,
} from './cache/index.js';
export {
  DiskInfo,
  DISK_INFO_FILENAME,
  DISK_FORMATS,
  isDiskFormat,
  type DiskFormat,
  type DetectFormat,
  type DiskInfoOptions,
} from './diskinfo/index.js';
export { verifyBaseSize, type VerifyBaseSizeDetails } from './verify.js';

// libvirt disk configuration.
export {
  LibvirtDiskConfig,
  effectiveDriverIo,
  ioTuneFromExtraSpecs,
  checkIoTune,
  IOTUNE_EXTRA_SPECS,
  IOTUNE_MAX,
  type IoTune,
  type DiskAuth,
  type DiskBus,
  type DiskCacheMode,
  type DiskDeviceType,
  type DiskDiscardMode,
  type DiskIoMode,
  type DiskSource,
  type LibvirtDiskConfigOptions,
  type NetworkHost,
} from './libvirt/index.js';
export * from './backends/index.js';
export * from './lvm/index.js';

// Name validators, one per kind of name.
export {
  checkFileName,
  checkRbdName,
  MAX_FILE_NAME_BYTES,
  MAX_RBD_NAME_BYTES,
  MAX_LVM_NAME_BYTES,
  MAX_LVM_PAIR_CHARS,
} from './names.js';
// The image pipeline (Glance v2 client, fetchToRaw, the disk-ops limiter). Its
// ImageService (get + download) is a superset of the backends' ImageService
// (get only), exported above under the plain name; this one under its own.
export type { ImageService as ImageServiceWithDownload, ImageRecord, ImageRecordLocation, GetImageOptions, DownloadImageOptions } from './images/ImageService.js';
export {
  GlanceImageService,
  fetchToRaw,
  imageServiceFetch,
  fetchToRbd,
  DiskOpsLimiter,
  verifyImageFile,
  qemuFormatOf,
  expectedHash,
  type GlanceImageServiceOptions,
  type ImageServiceContext,
  type RegisterSnapshotOptions,
  type RegisteredSnapshot,
  type FetchToRawOptions,
  type FetchToRawResult,
  type FetchProgress,
  type PipelineQemu,
  type FetchToRbdOptions,
  type FetchToRbdResult,
  type RbdVolumeTarget,
  type StreamImportDriver,
  type StreamImportResult,
  type VerifyOptions,
  type VerifyTools,
  type ExpectedHash,
} from './images/index.js';
