// The disk stores (raw/flat, qcow2, lvm, rbd), the provisioning policy, the disk handle and the Backend registry.
export {
  Backend,
  type BackendOptions,
  type DiskStoreClass,
  type DiskStoreTypes,
  type ImagesType,
  type StoreOf,
} from './Backend.js';
export { Disk } from './Disk.js';
export {
  canClone,
  canHoldBases,
  canDirectSnapshot,
  canImportFile,
  canSnapshot,
  type CachedBase,
  type CloneCapable,
  type CreateFromBase,
  type CreateGenerated,
  type CreateRequest,
  type CreateResult,
  type DirectSnapshotCapable,
  type DiskStore,
  type ExtractOptions,
  type FileImportCapable,
  type GrowOptions,
  type HeldBaseCapable,
  type RemoveOptions,
  type SnapshotCapable,
} from './DiskStore.js';
export { FileStore } from './FileStore.js';
export { FlatStore } from './FlatStore.js';
export { Qcow2Store } from './Qcow2Store.js';
export { LvmStore } from './LvmStore.js';
export { RbdStore } from './RbdStore.js';
export { RbdBaseImages, RBD_BASE_PREFIX, type RbdBase, type RbdBaseMade, type RbdBaseSource, type RbdBaseRemovalReport } from './RbdBaseImages.js';
export { provision } from './provision.js';
export type {
  CacheOptions,
  CloneFirstOptions,
  DiskLocation,
  ImageCache,
  ImageService,
  ImageServiceImage,
  ImageTools,
  InstanceRef,
  LibvirtInfoOptions,
  LvmBackendOptions,
  PreallocateImages,
  ProvisionReport,
  ProvisionTimings,
  Qcow2BackendOptions,
  QemuRunner,
  RbdBackendOptions,
  RbdStoreDriver,
  StoreContext,
  StoreConvertOptions,
} from './types.js';
