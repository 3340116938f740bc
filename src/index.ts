/**
 * imagebackend: disk-image backends for libvirt/KVM compute agents.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export { RbdCluster, type RbdConnectOptions, type RbdClusterStats } from './rbd/RbdCluster.js';
export { RbdPool } from './rbd/RbdPool.js';
export {
  RbdImage,
  type RbdLayout,
  type RbdImageStat,
  type RbdParentInfo,
  type RbdSnapshotInfo,
  type RbdTransferOptions,
  type RbdTransferResult,
} from './rbd/RbdImage.js';
export {
  RbdDriver,
  RESIZE_SNAPSHOT_NAME,
  type RbdDriverOptions,
  type ImageLocation,
  type ImageMeta,
  type CleanupReport,
} from './rbd/RbdDriver.js';
// The plain objects the RBD calls return (aliased as RbdImageStat, RbdLayout, RbdParentInfo, RbdSnapshotInfo).
export type { NativeImageStat, NativeLayout, NativeParentInfo, NativeSnapInfo } from './native.js';
export { parseRbdUrl, type RbdLocation } from './rbd/url.js';
export { parseMonMap, splitAddr, type MonitorAddress } from './rbd/monmap.js';

import { RbdCluster } from './rbd/RbdCluster.js';
/**
 * Short alias from the design sketch: `await Rbd.connect({...})`.
 *
 * @example
 * ```ts
 * const cluster = await Rbd.connect({ cephConf: '/etc/ceph/ceph.conf', user: 'nova' });
 * ```
 */
export const Rbd = {
  /** {@link RbdCluster.connect}, bound: connects and returns the shared cluster connection. */
  connect: RbdCluster.connect.bind(RbdCluster),
};

export {
  inspect,
  assertSafe,
  type ImageFormat,
  type ImageInfo,
  type ImageSafety,
  type InspectOptions,
} from './image/inspect.js';
export { createQcow2Overlay, type Qcow2OverlayOptions, type Qcow2OverlayResult } from './image/overlay.js';
export * from './blockdev/index.js';
export * from './qemu/index.js';

export {
  BaseImageCache,
  ImageCacheManager,
  Locks,
  KeyedMutex,
  cacheFileName,
  parseBaseFileName,
  PARTIAL_INFIX,
  type BaseImageCacheOptions,
  type FetchFunction,
  type FetchOnceOptions,
  type FetchRequest,
  type BaseFile,
  type BaseFileKind,
  type BaseFileName,
  type ImageCacheManagerOptions,
  type RemoveUnusedOptions,
  type RemoveUnusedReport,
  type LockContext,
  type LockService,
  type LocksOptions,
  type SynchronizedOptions,
} from './cache/index.js';
export { DiskInfo, DISK_INFO_FILENAME, DISK_FORMATS, isDiskFormat, type DiskFormat, type DetectFormat, type DiskInfoOptions } from './diskinfo/index.js';
export { verifyBaseSize, type VerifyBaseSizeDetails } from './verify.js';
export {
  LibvirtDiskConfig,
  ioTuneFromExtraSpecs,
  checkIoTune,
  IOTUNE_EXTRA_SPECS,
  IOTUNE_MAX,
  XmlElement,
  type XmlAttributeValue,
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
// The backends' ImageLocation (where a disk is) under a name of its own: the
// plain name is the RBD driver's ImageLocation (an image-service location).
export type { ImageLocation as DiskLocation } from './backends/index.js';
// The Rbd image class (what backend.image() returns for `rbd`) under a name of
// its own: the plain name `Rbd` is the design sketch's `Rbd.connect` alias.
export { Rbd as RbdImageBackend } from './backends/Rbd.js';
export * from './lvm/index.js';
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
  DEFAULT_VMDK_ALLOWED_TYPES,
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
