// The image backends: nova's imagebackend (Image, Flat, Qcow2, Rbd) and the Backend registry.
export { Backend, type BackendOptions, type ImageClass } from './Backend.js';
export { Image, type ImageInit } from './Image.js';
export { Flat } from './Flat.js';
export { Qcow2 } from './Qcow2.js';
export { Lvm } from './Lvm.js';
export { Rbd } from './Rbd.js';
export type {
  BackendContext,
  CacheOptions,
  CloneFirstOptions,
  CreateImageOptions,
  ImageCache,
  ImageLocation,
  ImageService,
  ImageServiceImage,
  ImageTools,
  InstanceRef,
  LibvirtInfoOptions,
  LvmBackendOptions,
  PreallocateImages,
  PrepareTemplate,
  QemuRunner,
  RbdBackendDriver,
  RbdBackendOptions,
} from './types.js';
