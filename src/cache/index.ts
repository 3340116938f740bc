// The base-image cache: nova's `_base` folder, its locks, fetch-once and aging.
export { cacheFileName } from './cacheFileName.js';
export { parseBaseFileName, type BaseFileKind, type BaseFileName } from './baseFileName.js';
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
  type RemoveUnusedOptions,
  type RemoveUnusedReport,
} from './ImageCacheManager.js';
export { KeyedMutex, type KeyedMutexRunOptions } from './KeyedMutex.js';
export { Locks, type LockContext, type LockService, type LocksOptions, type SynchronizedOptions } from './Locks.js';
