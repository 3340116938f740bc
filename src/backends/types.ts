/**
 * What the disk stores and the provisioning policy depend on, as interfaces:
 * the real implementations are the defaults, and tests inject fakes through
 * {@link BackendOptions}.
 */
import type { FetchFunction, FetchOnceOptions } from '../cache/BaseImageCache.js';
import type { LockService } from '../cache/Locks.js';
import type { CopyRawOptions, CopyRawResult } from '../blockdev/copy.js';
import type { FallocateOptions } from '../blockdev/fallocate.js';
import type { DiskInfo } from '../diskinfo/DiskInfo.js';
import type { ImageInfo, InspectOptions } from '../image/inspect.js';
import type { Qcow2OverlayOptions, Qcow2OverlayResult } from '../image/overlay.js';
import type { DiskBus, DiskCacheMode, DiskDeviceType, DiskDiscardMode } from '../libvirt/LibvirtDiskConfig.js';
import type { ConvertFromRbdOptions, ConvertOptions, RbdSource, ResizeOptions } from '../qemu/QemuImg.js';
import type { RbdDriver } from '../rbd/RbdDriver.js';
import type { LvmDriver } from '../lvm/LvmDriver.js';
import type { LvmOptions } from '../lvm/options.js';
import type { DiskOpsLimiter } from '../images/DiskOpsLimiter.js';

/** The instance a disk belongs to: its folder is `<instancesPath>/<uuid>`. */
export interface InstanceRef {
  /** The instance's UUID: names its folder `<instancesPath>/<uuid>`, and is the prefix of its rbd and LVM volume names (`<uuid>_<disk name>`). */
  uuid: string;
  /** nova's instance name (`instance-0000002a`); informational only: the stores name files and volumes after {@link InstanceRef.uuid}. */
  name?: string;
}

/**
 * Options of a qemu-img conversion the stores run: {@link ConvertOptions}
 * plus `trusted`, set only for a source this library made itself and has
 * checked (the qemu-img runner refuses an unsafe source otherwise).
 */
export type StoreConvertOptions = ConvertOptions & {
  /** The source is the library's own disk, already checked: qemu-img may follow its backing file. */
  trusted?: boolean;
};

/** The qemu-img operations the stores run ({@link QemuImg} implements them). */
export interface QemuRunner {
  /** `qemu-img convert` of a local image to `dst` (see {@link QemuImg.convert}). */
  convert(src: string, dst: string, options: StoreConvertOptions): Promise<void>;
  /** `qemu-img convert` of an RBD image or snapshot to a local file (see {@link QemuImg.convertFromRbd}). */
  convertFromRbd(source: RbdSource, dst: string, options: ConvertFromRbdOptions): Promise<void>;
  /** `qemu-img resize` of `path` to `size` bytes (see {@link QemuImg.resize}). */
  resize(path: string, size: number, options: ResizeOptions): Promise<void>;
}

/** The base-image cache ({@link BaseImageCache} implements it). */
export interface ImageCache {
  /** `<instancesPath>/<imageCacheSubdirectoryName>`. */
  readonly baseDir: string;
  /** The locks fetches run under; the policy takes the same lock while a disk is made from a base. */
  readonly locks: LockService;
  /** The path of base file `filename` in {@link ImageCache.baseDir} (which need not exist). */
  path(filename: string): string;
  /** The path of base file `filename`, fetched first (once, under its lock) when absent; see {@link BaseImageCache.fetchOnce}. */
  fetchOnce(filename: string, fetch: FetchFunction, options?: FetchOnceOptions): Promise<string>;
}

/** Native file operations the stores use (defaults: the addon's). */
export interface ImageTools {
  /** Reads an image header natively (default: the library's `inspect`). */
  inspect(path: string, options?: InspectOptions): Promise<ImageInfo>;
  /** Copies a raw image or device byte for byte, keeping holes (default: the library's `copyRawData`). */
  copyRawData(src: string, dst: string, options?: CopyRawOptions): Promise<CopyRawResult>;
  /** Allocates the blocks of a file, for `preallocateImages: 'space'` (default: the library's `fallocateFile`). */
  fallocateFile(path: string, options: FallocateOptions): Promise<void>;
  /** Writes a qcow2 overlay on a backing file without qemu-img (default: the library's `createQcow2Overlay`). */
  createQcow2Overlay(path: string, options: Qcow2OverlayOptions): Promise<Qcow2OverlayResult>;
  /** Whether this process may write the file (nova's `os.access(path, os.W_OK)`). */
  isWritable(path: string): Promise<boolean>;
}

/**
 * The part of {@link RbdDriver} the rbd store uses. `resize` never shrinks
 * unless asked (`allowShrink`); the store never asks.
 */
export type RbdStoreDriver = Pick<
  RbdDriver,
  | 'pool'
  | 'exists'
  | 'size'
  | 'importImage'
  | 'isCloneable'
  | 'clone'
  | 'getMonAddrs'
  | 'getFsid'
  | 'parentInfo'
  | 'flatten'
  | 'createSnap'
  | 'protectSnap'
  | 'removeSnap'
  | 'rollbackToSnap'
  | 'destroyVolume'
  | 'parseUrl'
  | 'importStream'
  | 'createStaged'
  | 'sweepStaging'
  | 'listVolumes'
> & {
  /** Grows volume `name` to `size` bytes (the store only ever grows: it checks the size first). */
  resize(name: string, size: number): Promise<void>;
  /**
   * Whether the connection authenticates with cephx (librados's
   * `auth_client_required` is not just `none`): the disk XML then needs a
   * libvirt secret. Optional only until the driver in this tree has it; a
   * driver without it is taken to need no secret.
   */
  authRequired?(): Promise<boolean>;
};

/** An image-service record (Glance's image with `locations`). */
export interface ImageServiceImage {
  /** The image's id in the image service (Glance image UUID). */
  id?: string;
  /** Glance's `disk_format` (`raw`, `qcow2`, `iso`...); the rbd store clones only `raw` (and `iso`) images. */
  disk_format?: string;
  /** Where the image's data is stored (Glance `locations`, returned when asked with `includeLocations`); rbd clones from an `rbd://fsid/pool/image/snap` one on the same cluster. */
  locations?: Array<{
    /** The location's URL, e.g. `rbd://<fsid>/<pool>/<image>/<snapshot>` for an image stored in Ceph. */
    url: string;
    /** The location's metadata as the image service gives it; not read by this library. */
    metadata?: Record<string, unknown>;
  }>;
  [key: string]: unknown;
}

/**
 * The image service (nova's `IMAGE_API`): the rbd store asks it for an
 * image's locations (clone, direct snapshot), and with `download` it is where
 * {@link Disk.cache} gets bases when the caller passes no `fetch` (the image
 * pipeline: `fetchToRaw`, and for rbd a base held in the pool).
 * `GlanceImageService` has both methods.
 */
export interface ImageService {
  /** Fetches image `imageId`'s record; `context` is passed through untouched (nova's request context), and `includeLocations: true` asks for its `locations`. */
  get(context: unknown, imageId: string, options: { includeLocations: boolean; signal?: AbortSignal }): Promise<ImageServiceImage>;
  /** The image's stored bytes as a stream; needed to provision with no `fetch` (the image pipeline). */
  download?(context: unknown, imageId: string, options?: { signal?: AbortSignal }): Promise<AsyncIterable<Uint8Array>>;
}

/** Ceph settings of the rbd store (nova's `images_rbd_*`, `rbd_user`, `rbd_secret_uuid`). */
export interface RbdBackendOptions {
  /** Pool of instance disks; default `rbd`. */
  pool?: string;
  /** Path of ceph.conf (nova's `images_rbd_ceph_conf`); librados's default search (`/etc/ceph/ceph.conf`...) when absent. */
  cephConf?: string;
  /** Ceph user id without `client.`. */
  user?: string;
  /** Keyring of that user, when ceph.conf does not name it (for the library's own connection and qemu-img). */
  keyring?: string;
  /** The libvirt secret holding the user's key: the disk XML gets `<auth>` when set; required when the cluster uses cephx. */
  secretUuid?: string;
  /** An existing driver to use instead of opening a connection from the settings above. */
  driver?: RbdStoreDriver;
}

/** LVM settings (nova's `images_volume_group`, `sparse_logical_volumes`, `volume_clear*`) and the lvm2 runner, read by the lvm store. */
export interface LvmBackendOptions extends LvmOptions {
  /** An existing driver to use instead of `createLvmDriver(options)`. */
  driver?: LvmDriver;
}

/** Settings of the qcow2 store's overlays (images type `qcow2`, and `default` with `useCowImages`). */
export interface Qcow2BackendOptions {
  /**
   * qcow2's `extended_l2` (subcluster allocation: 32 subclusters per
   * cluster, so a guest's small writes allocate less) on every overlay the
   * store makes; default false, as `qemu-img create`. Needs clusters of
   * 16 KiB or more: an overlay of a qcow2 base with smaller clusters (whose
   * cluster size overlays inherit, as nova's) fails with INVALID_ARGUMENT.
   */
  extendedL2?: boolean;
}

/** nova's `preallocate_images`. */
export type PreallocateImages = 'none' | 'space';

/**
 * Everything a store and the provisioning policy use, from one place: the
 * {@link Backend} builds it once from its options (real implementations by
 * default, injected fakes where given) and hands it to every store.
 */
export interface StoreContext {
  /** Absolute path of nova's `instances_path`, the folder of instance folders. */
  readonly instancesPath: string;
  /** The base-image cache (`<instancesPath>/_base` by default) bases are fetched into. */
  readonly cache: ImageCache;
  /** The lock folder `<instancesPath>/locks`, shared with the cache and disk.info. */
  readonly locks: LockService;
  /** Runs qemu-img (convert, resize) for the stores. */
  readonly qemu: QemuRunner;
  /** Native file operations: inspect, raw copy, fallocate, qcow2 overlay, writability. */
  readonly tools: ImageTools;
  /** nova's `preallocate_images`: `space` allocates file-backed disks' blocks after they are made. */
  readonly preallocateImages: PreallocateImages;
  /** nova's `hw_disk_discard`. */
  readonly discardMode: DiskDiscardMode | undefined;
  /** Ceph settings of the rbd store, as given in {@link BackendOptions.rbd}; undefined when not set. */
  readonly rbd: RbdBackendOptions | undefined;
  /** The rbd store's driver, opened on first use. */
  rbdDriver(): RbdStoreDriver;
  /** Overlay settings of the qcow2 store, as given in {@link BackendOptions.qcow2}; undefined when not set. */
  readonly qcow2?: Qcow2BackendOptions | undefined;
  /** LVM settings of the lvm store, as given in {@link BackendOptions.lvm}; undefined when not set. */
  readonly lvm: LvmBackendOptions | undefined;
  /** The lvm store's driver, made on first use. */
  lvmDriver(): LvmDriver;
  /** Where the rbd store looks up image locations for clone and direct snapshot, and (with `download`) where bases come from when a cache call has no `fetch`; undefined when not set. */
  readonly imageService: ImageService | undefined;
  /** nova's `max_concurrent_disk_ops` for this backend: downloads, conversions, copies and imports wait here for a turn. */
  readonly diskOps: DiskOpsLimiter;
  /** The disk.info of an instance folder, locking with {@link StoreContext.locks}. */
  diskInfo(instanceDir: string): DiskInfo;
}

/**
 * Where a disk is: a disk of an instance, or a path libvirt knows it by.
 */
export type DiskLocation =
  | {
      /** The instance the disk belongs to. */
      instance: InstanceRef;
      /** The disk's name in the instance (`disk`, `disk.local`, `disk.swap`, `disk.config`...), as in {@link Backend.image}. */
      diskName: string;
    }
  | {
      /** The disk's libvirt source: a file path, `/dev/<vg>/<lv>`, or `pool/name` (or `rbd:pool/name`) for rbd, as in {@link Backend.disk}. */
      path: string;
      /** The instance the disk belongs to, when known. */
      instance?: InstanceRef;
    };

/** What {@link Disk.cache} is asked to do. */
export interface CacheOptions {
  /**
   * Writes the base image (or, for a generated disk, the disk itself) to
   * `request.target`. Absent: the base comes from the backend's
   * `imageService` through the image pipeline (`fetchToRaw`; on rbd, a base
   * image held in the pool that every disk is cloned from), which needs
   * `imageId`.
   */
  fetch?: FetchFunction;
  /** The base's name in the cache (`<instancesPath>/_base/<filename>`; on rbd without `fetch`, the RBD image `_base~<filename>`). Default `cacheFileName(imageId)`; required for a generated disk. */
  filename?: string;
  /** The caller's request context (nova's `context`): passed to the image service (a token may come from it), to the `fetch`, and to the clone when `clone.context` is not given. */
  context?: unknown;
  /** The disk's size in bytes; 0 or absent: the base image's size. */
  size?: number;
  /** The image the base comes from; absent when the disk is generated (ephemeral, swap). */
  imageId?: string;
  /** Ephemeral disks: the size asked for, in bytes (nova's `ephemeral_size`). */
  ephemeralSize?: number;
  /** Skip the base's safety check (nova's `safe=True`, for bases the host generated itself). */
  safe?: boolean;
  /**
   * Try a clone before fetching (nova's `clone_fallback_to_fetch`, for
   * stores that can clone: rbd). An image the image service stores in this
   * Ceph cluster becomes a copy-on-write clone and nothing is downloaded;
   * `IMAGE_UNACCEPTABLE` falls back to fetching the base, unless
   * `neverDownload` is set. Needs `imageId`. Without `fetch` this is on by
   * default (nova's spawn always tries it), with `context`.
   */
  clone?: CloneFirstOptions;
  /** Aborts waiting for the lock, the fetch and the disk creation. */
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

/** How long each step of a {@link Disk.cache} took, milliseconds; a step not taken is absent. */
export interface ProvisionTimings {
  /** Waiting for and running the fetch of the base (0 when it was cached). */
  fetch?: number;
  /** The one inspection of the base (format, size, safety). */
  inspect?: number;
  /** The clone attempt (rbd). */
  clone?: number;
  /** Making the disk: copy, overlay, volume write or import, under the base's lock. */
  create?: number;
  /** Growing the disk to the size asked for. */
  grow?: number;
  /** Allocating the disk's blocks (`preallocateImages: 'space'`). */
  preallocate?: number;
  /** Recording the format in disk.info. */
  diskInfo?: number;
  /** The whole call. */
  total: number;
}

/** What {@link Disk.cache} did, so callers need not inspect the disk again. */
export interface ProvisionReport {
  /** The disk was made by this call (false: it existed already). */
  created: boolean;
  /** The disk was made as a copy-on-write clone (rbd): of the image service's own copy (nothing fetched), or of a base held in the pool (`base` names it). */
  cloned: boolean;
  /** This call ran the fetch function or the image pipeline's download (the base was not cached, or the disk was generated by it). */
  fetched: boolean;
  /** The disk's format (what disk.info records for file disks). */
  format: string;
  /** The disk's virtual size in bytes after this call. */
  virtualSize: number;
  /** What the disk was made from: the cached base file, or `pool/_base~<filename>@snap` for an rbd disk cloned from a base held in the pool; undefined for a generated disk or a clone of the image service's copy. */
  base: string | undefined;
  /** Where the time went. */
  timings: ProvisionTimings;
}

/** The guest side of a disk, for {@link Disk.libvirtInfo}. */
export interface LibvirtInfoOptions {
  /** The guest bus (`<target bus>`): `virtio`, `scsi`, `ide`, `sata`, `usb`... */
  diskBus: DiskBus;
  /** `vda`, `sdb`... */
  diskDev: string;
  /** Default `disk`. */
  deviceType?: DiskDeviceType;
  /** `<driver cache>` (nova's `disk_cachemodes`, e.g. `none`); left out when absent. */
  cacheMode?: DiskCacheMode;
  /** The flavor's extra specs: the `quota:disk_*` keys become `<iotune>`. */
  extraSpecs?: Readonly<Record<string, unknown>>;
  /** The hypervisor's version; KVM/QEMU always use driver `qemu`. */
  hypervisorVersion?: number;
  /** `<boot order>`: the position of this disk in the boot order, 1 first; none when absent. */
  bootOrder?: number;
  /** SCSI bus: the drive address unit. */
  diskUnit?: number;
}
