// The base-image cache: nova's `_base` folder, its locks, fetch-once and aging.
export { cacheFileName } from './cacheFileName.js';
export { parseBaseFileName, ephemeralFileExtension, ephemeralFileName, swapFileName, type BaseFileKind, type BaseFileName } from './baseFileName.js';
export {
  BaseImageCache,
  PARTIAL_INFIX,
  type BaseImageCacheOptions,
  type FetchFunction,
  type FetchOnceOptions,
  type FetchRequest,
} from './BaseImageCache.js';
export {
  ImageCacheManager,
  type BaseFile,
  type ImageCacheManagerOptions,
  type PrecacheFetch,
  type PrecacheImage,
  type PrecacheOptions,
  type PrecacheResult,
  type RemoveUnusedOptions,
  type RemoveUnusedReport,
} from './ImageCacheManager.js';
export { scanInstances, type HeaderInspector, type InstanceScan } from './scanInstances.js';
export { KeyedMutex, type KeyedMutexRunOptions } from './KeyedMutex.js';
export { Locks, type LockContext, type LockService, type LocksOptions, type SynchronizedOptions } from './Locks.js';
