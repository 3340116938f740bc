/**
 * What the image backends depend on, as interfaces: the real implementations
 * are the defaults, and unit tests inject fakes.
 */
import type { FetchFunction, FetchOnceOptions } from '../cache/BaseImageCache.js';
import type { LockService } from '../cache/Locks.js';
import type { CopyRawOptions, CopyRawResult } from '../blockdev/copy.js';
import type { FallocateOptions } from '../blockdev/fallocate.js';
import type { ImageInfo, InspectOptions } from '../image/inspect.js';
import type { Qcow2OverlayOptions, Qcow2OverlayResult } from '../image/overlay.js';
import type { DiskBus, DiskCacheMode, DiskDeviceType, DiskDiscardMode } from '../libvirt/LibvirtDiskConfig.js';
import type { ConvertFromRbdOptions, ConvertOptions, RbdSource, ResizeOptions } from '../qemu/QemuImg.js';
import type { RbdDriver } from '../rbd/RbdDriver.js';
import type { LvmDriver } from '../lvm/LvmDriver.js';
import type { LvmOptions } from '../lvm/options.js';

/** The instance a disk belongs to: its folder is `<instancesPath>/<uuid>`. */
export interface InstanceRef {
  uuid: string;
  /** nova's instance name (`instance-0000002a`); the Lvm backend names volumes after it. */
  name?: string;
}

/** The qemu-img operations the backends run ({@link QemuImg} implements them). */
export interface QemuRunner {
  convert(src: string, dst: string, options: ConvertOptions): Promise<void>;
  convertFromRbd(source: RbdSource, dst: string, options: ConvertFromRbdOptions): Promise<void>;
  resize(path: string, size: number, options: ResizeOptions): Promise<void>;
}

/** The base-image cache ({@link BaseImageCache} implements it). */
export interface ImageCache {
  /** `<instancesPath>/<imageCacheSubdirectoryName>`. */
  readonly baseDir: string;
  /** The locks fetches run under; backends take the same lock while they read a base. */
  readonly locks: LockService;
  path(filename: string): string;
  fetchOnce(filename: string, fetch: FetchFunction, options?: FetchOnceOptions): Promise<string>;
}

/** Native file operations the backends use (defaults: the addon's). */
export interface ImageTools {
  inspect(path: string, options?: InspectOptions): Promise<ImageInfo>;
  copyRawData(src: string, dst: string, options?: CopyRawOptions): Promise<CopyRawResult>;
  fallocateFile(path: string, options: FallocateOptions): Promise<void>;
  createQcow2Overlay(path: string, options: Qcow2OverlayOptions): Promise<Qcow2OverlayResult>;
  /** Whether this process may write the file (nova's `os.access(path, os.W_OK)`). */
  isWritable(path: string): Promise<boolean>;
}

/** The part of {@link RbdDriver} the Rbd backend uses. */
export type RbdBackendDriver = Pick<
  RbdDriver,
  | 'pool'
  | 'exists'
  | 'size'
  | 'resize'
  | 'importImage'
  | 'isCloneable'
  | 'clone'
  | 'getMonAddrs'
  | 'getFsid'
  | 'parentInfo'
  | 'flatten'
  | 'createSnap'
  | 'removeSnap'
  | 'rollbackToSnap'
  | 'destroyVolume'
  | 'parseUrl'
>;

/** An image-service record (Glance's image with `locations`). */
export interface ImageServiceImage {
  id?: string;
  disk_format?: string;
  locations?: Array<{ url: string; metadata?: Record<string, unknown> }>;
  [key: string]: unknown;
}

/** The image service the Rbd backend asks for an image's locations (nova's `IMAGE_API`). */
export interface ImageService {
  get(context: unknown, imageId: string, options: { includeLocations: boolean }): Promise<ImageServiceImage>;
}

/** Ceph settings of the Rbd backend (nova's `images_rbd_*`, `rbd_user`, `rbd_secret_uuid`). */
export interface RbdBackendOptions {
  /** Pool of instance disks; default `rbd`. */
  pool?: string;
  cephConf?: string;
  /** Ceph user id without `client.`. */
  user?: string;
  /** Keyring of that user, when ceph.conf does not name it (for the library's own connection and qemu-img). */
  keyring?: string;
  /** The libvirt secret holding the user's key: the disk XML gets `<auth>` when set. */
  secretUuid?: string;
  /** An existing driver to use instead of opening a connection from the settings above. */
  driver?: RbdBackendDriver;
}

/** LVM settings (nova's `images_volume_group`, `sparse_logical_volumes`, `volume_clear*`) and the lvm2 runner, read by the Lvm image class. */
export interface LvmBackendOptions extends LvmOptions {
  /** An existing driver to use instead of `createLvmDriver(options)`. */
  driver?: LvmDriver;
}

/** nova's `preallocate_images`. */
export type PreallocateImages = 'none' | 'space';

/** Everything an image needs from its {@link Backend}. */
export interface BackendContext {
  readonly instancesPath: string;
  readonly cache: ImageCache;
  /** The lock folder `<instancesPath>/locks`, shared with the cache. */
  readonly locks: LockService;
  readonly qemu: QemuRunner;
  readonly tools: ImageTools;
  readonly preallocateImages: PreallocateImages;
  /** nova's `hw_disk_discard`. */
  readonly discardMode: DiskDiscardMode | undefined;
  readonly rbd: RbdBackendOptions | undefined;
  /** The Rbd backend's driver, opened on first use. */
  rbdDriver(): RbdBackendDriver;
  readonly lvm: LvmBackendOptions | undefined;
  /** The Lvm backend's driver, made on first use. */
  lvmDriver(): LvmDriver;
  readonly imageService: ImageService | undefined;
}

/** Where an image is: a disk of an instance, or a path libvirt knows it by. */
export type ImageLocation = { instance: InstanceRef; diskName: string } | { path: string; instance?: InstanceRef };

/** What {@link Image.cache} is asked to do. */
export interface CacheOptions {
  /** Writes the base image (or, for a generated disk, the disk itself) to `request.target`. */
  fetch: FetchFunction;
  /** The base file's name in the cache folder (e.g. `cacheFileName(imageId)`). */
  filename: string;
  /** The disk's size in bytes; 0 or absent: the base image's size. */
  size?: number;
  /** The image the base comes from; absent when the disk is generated (ephemeral, swap). */
  imageId?: string;
  /** Ephemeral disks: the size asked for, in bytes (nova's `ephemeral_size`). */
  ephemeralSize?: number;
  /** Skip the base's safety check (nova's `safe=True`, for bases the host generated itself). */
  safe?: boolean;
  /**
   * Try {@link Image.clone} before fetching (nova's `clone_fallback_to_fetch`,
   * used for backends that support clone: Rbd). An image the image service
   * stores in this Ceph cluster becomes a copy-on-write clone and nothing is
   * downloaded; `IMAGE_UNACCEPTABLE` falls back to fetching the base, unless
   * `neverDownload` is set. Needs `imageId`.
   */
  clone?: CloneFirstOptions;
  signal?: AbortSignal;
}

/** {@link CacheOptions.clone}: clone first, fetch only when the image cannot be cloned. */
export interface CloneFirstOptions {
  /** Passed to the image service's `get` as is (nova's request context). */
  context?: unknown;
  /**
   * Rethrow the clone's `IMAGE_UNACCEPTABLE` instead of downloading (nova's
   * `[workarounds] never_download_image_if_on_rbd`); default false.
   */
  neverDownload?: boolean;
}

/** Writes a template (the base, or a generated disk) to `target`. */
export type PrepareTemplate = (target: string) => Promise<void>;

/** What {@link Image.createImage} receives besides the template function. */
export interface CreateImageOptions {
  imageId?: string;
  ephemeralSize?: number;
  safe?: boolean;
  signal?: AbortSignal;
}

/** The guest side of a disk, for {@link Image.libvirtInfo}. */
export interface LibvirtInfoOptions {
  diskBus: DiskBus;
  /** `vda`, `sdb`... */
  diskDev: string;
  /** Default `disk`. */
  deviceType?: DiskDeviceType;
  cacheMode?: DiskCacheMode;
  /** The flavor's extra specs: the `quota:disk_*` keys become `<iotune>`. */
  extraSpecs?: Readonly<Record<string, unknown>>;
  /** The hypervisor's version; KVM/QEMU always use driver `qemu`. */
  hypervisorVersion?: number;
  bootOrder?: number;
  /** SCSI bus: the drive address unit. */
  diskUnit?: number;
}



