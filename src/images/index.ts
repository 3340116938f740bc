/** The image pipeline: an image service (Glance v2), fetchToRaw, the disk-ops limiter. */
export type { ImageService, ImageRecord, ImageRecordLocation, GetImageOptions, DownloadImageOptions } from './ImageService.js';
export { GlanceImageService, type GlanceImageServiceOptions, type ImageServiceContext, type RegisterSnapshotOptions, type RegisteredSnapshot } from './GlanceImageService.js';
export { fetchToRaw, imageServiceFetch, type FetchToRawOptions, type FetchToRawResult, type FetchProgress, type PipelineQemu } from './fetchToRaw.js';
export { DiskOpsLimiter } from './DiskOpsLimiter.js';
export { verifyImageFile, qemuFormatOf, DEFAULT_VMDK_ALLOWED_TYPES, type VerifyOptions, type VerifyTools } from './verifyImageFile.js';
export { expectedHash, type ExpectedHash } from './imageHash.js';
export { fetchToRbd, type FetchToRbdOptions, type FetchToRbdResult, type RbdVolumeTarget, type StreamImportDriver, type StreamImportResult } from './fetchToRbd.js';
