import { access, constants } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { BaseImageCache } from '../cache/BaseImageCache.js';
import { Locks, type LockService } from '../cache/Locks.js';
import { copyRawData } from '../blockdev/copy.js';
import { fallocateFile } from '../blockdev/fallocate.js';
import { DiskInfo } from '../diskinfo/DiskInfo.js';
import { UnknownImageTypeError, invalidArgument } from '../errors.js';
import { inspect } from '../image/inspect.js';
import { createQcow2Overlay } from '../image/overlay.js';
import { checkFolderPath } from '../names.js';
import type { DiskDiscardMode } from '../libvirt/LibvirtDiskConfig.js';
import { DiskOpsLimiter } from '../images/DiskOpsLimiter.js';
import { QemuImg } from '../qemu/QemuImg.js';
import { RbdDriver } from '../rbd/RbdDriver.js';
import { createLvmDriver } from '../lvm/options.js';
import type { LvmDriver } from '../lvm/LvmDriver.js';
import { Disk } from './Disk.js';
import type { DiskStore } from './DiskStore.js';
import { FlatStore } from './FlatStore.js';
import { LvmStore } from './LvmStore.js';
import { Qcow2Store } from './Qcow2Store.js';
import { RbdStore } from './RbdStore.js';
import type {
  DiskLocation,
  ImageCache,
  ImageService,
  ImageTools,
  InstanceRef,
  LvmBackendOptions,
  PreallocateImages,
  Qcow2BackendOptions,
  QemuRunner,
  RbdBackendOptions,
  RbdStoreDriver,
  StoreContext,
} from './types.js';

/**
 * The store class of each images type. Add your own with declaration
 * merging, then {@link Backend.register} it:
 *
 * @example
 * ```ts
 * declare module 'imagebackend' {
 *   interface DiskStoreTypes { ploop: PloopStore }
 * }
 * Backend.register('ploop', PloopStore);
 * backend.image({ uuid }, 'disk', 'ploop').store; // typed PloopStore
 * ```
 */
export interface DiskStoreTypes {
  /** Plain copies of the base (nova's `Flat`). */
  raw: FlatStore;
  /** The same as `raw`. */
  flat: FlatStore;
  /** qcow2 overlays on the cached base (nova's `Qcow2`). */
  qcow2: Qcow2Store;
  /** LVM logical volumes (nova's `Lvm`). */
  lvm: LvmStore;
  /** RBD images in Ceph (nova's `Rbd`). */
  rbd: RbdStore;
}

/** nova's `images_type`: a registered store type, or `default` (qcow2 with `useCowImages`, else raw). */
export type ImagesType = 'default' | keyof DiskStoreTypes;

/** The store of images type `T`: `default` is qcow2 or raw, decided by `useCowImages` when the backend is made. */
export type StoreOf<T extends ImagesType> = T extends keyof DiskStoreTypes ? DiskStoreTypes[T] : FlatStore | Qcow2Store;

/** A store class the registry can build: `new (context, location)`. */
export type DiskStoreClass<S extends DiskStore = DiskStore> = new (context: StoreContext, location: DiskLocation) => S;

/** How a {@link Backend} is set up; nova's option each field replaces is named. */
export interface BackendOptions<T extends ImagesType = ImagesType> {
  /** nova's `instances_path`. */
  instancesPath: string;
  /** nova's `image_cache.subdirectory_name`; default `_base`. */
  imageCacheSubdirectoryName?: string;
  /** nova's `libvirt.images_type`: `default`, `raw`/`flat`, `qcow2`, `rbd`, `lvm`. Default `default`. */
  imagesType?: T;
  /** nova's `use_cow_images`: what `default` means (qcow2 when true, raw when false). Default true. */
  useCowImages?: boolean;
  /** nova's `preallocate_images`. Default `none`. */
  preallocateImages?: PreallocateImages;
  /** nova's `libvirt.hw_disk_discard`. */
  discardMode?: DiskDiscardMode;
  /** Ceph settings for images type `rbd` (nova's `images_rbd_pool`, `images_rbd_ceph_conf`, `rbd_user`, `rbd_secret_uuid`); the connection opens on first use. */
  rbd?: RbdBackendOptions;
  /** LVM settings for images type `lvm` (nova's `images_volume_group`, `sparse_logical_volumes`, `volume_clear`, `volume_clear_size`). */
  lvm?: LvmBackendOptions;
  /** Overlay settings for images type `qcow2` (and `default` with `useCowImages`), e.g. `{ extendedL2: true }`. */
  qcow2?: Qcow2BackendOptions;
  /**
   * The image service (e.g. a `GlanceImageService`): where rbd's clone
   * and direct snapshot find images' locations, and, when it can `download`,
   * where `disk.cache({ imageId, size, context })` with no `fetch` gets the
   * base (the image pipeline; on rbd a base held in the pool and cloned).
   */
  imageService?: ImageService;
  /**
   * nova's `max_concurrent_disk_ops`: how many downloads, conversions,
   * copies and imports this backend runs at once; the rest wait their turn
   * (first come, first served). 0, the default, is unlimited, as in nova.
   */
  maxConcurrentDiskOps?: number;
  /** The qemu-img runner; default a {@link QemuImg}. */
  qemu?: QemuRunner;
  /** The base-image cache to use; default a {@link BaseImageCache} of `<instancesPath>/<imageCacheSubdirectoryName>`. */
  cache?: ImageCache;
  /** The locks for fetches, base reads and disk.info; default the cache's, else {@link Locks} in `<instancesPath>/locks`. */
  locks?: LockService;
  /** Replaces some of the native file operations (inspect, copy, fallocate, overlay, writability); the rest stay the defaults. */
  tools?: Partial<ImageTools>;
}

function checkQcow2Options(options: Qcow2BackendOptions | undefined): Qcow2BackendOptions | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== 'object' || options === null) throw invalidArgument('qcow2 options', 'qcow2', options);
  if (options.extendedL2 !== undefined && typeof options.extendedL2 !== 'boolean') {
    throw invalidArgument('a boolean', 'qcow2.extendedL2', options.extendedL2);
  }
  return Object.freeze({ ...options });
}

// Store types every Backend knows; more join with Backend.register.
const registry = new Map<string, DiskStoreClass>([
  ['raw', FlatStore],
  ['flat', FlatStore],
  ['qcow2', Qcow2Store],
  ['lvm', LvmStore],
  ['rbd', RbdStore],
]);

const TYPE = /^[a-z][a-z0-9_-]*$/;

function maxConcurrentDiskOps(value: unknown): number {
  if (value === undefined) return 0;
  if (!(Number.isSafeInteger(value) && (value as number) >= 0)) throw invalidArgument('a non-negative integer (0: unlimited)', 'maxConcurrentDiskOps', value);
  return value as number;
}

const defaultTools: ImageTools = {
  inspect,
  copyRawData,
  fallocateFile,
  createQcow2Overlay,
  isWritable: async (path) => {
    try {
      await access(path, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
};

/**
 * The registry of disk stores (nova's `imagebackend.Backend`): picks the
 * store for an images type and gives the {@link Disk} of a disk by instance
 * and name, or by the path libvirt knows it by, typed by the images type
 * asked for. One Backend builds one {@link StoreContext} (cache, locks,
 * qemu-img runner, tools, drivers) shared by every disk; {@link Backend.close}
 * (or `await using`) closes the connections it opened.
 *
 * @example
 * ```ts
 * await using backend = new Backend({ instancesPath: '/var/lib/nova/instances', imagesType: 'rbd', rbd: { pool: 'vms' } });
 * const disk = backend.image({ uuid: instance.uuid }, 'disk'); // Disk<RbdStore>
 * const report = await disk.cache({ fetch, filename: cacheFileName(imageId), imageId, size: 20 * 2 ** 30 });
 * const xml = (await disk.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', cacheMode: 'none' })).toXml();
 * ```
 */
export class Backend<T extends ImagesType = ImagesType> {
  /** `instancesPath` made absolute. */
  readonly instancesPath: string;
  /** The images type asked for (`default` when not given). */
  readonly imagesType: T | 'default';
  /** nova's `use_cow_images`: whether `default` means qcow2 (true) or raw (false). */
  readonly useCowImages: boolean;
  /** What every disk this backend gives shares: cache, locks, qemu-img runner, tools, settings and drivers (frozen). */
  readonly context: StoreContext;
  #rbdDriver: RbdStoreDriver | undefined;
  #ownsRbdDriver = false;
  #lvmDriver: LvmDriver | undefined;
  #ownsLvmDriver = false;

  constructor(options: BackendOptions<T>) {
    if (typeof options !== 'object' || options === null) throw invalidArgument('backend options', 'options', options);
    checkFolderPath(options.instancesPath, 'instancesPath');
    this.instancesPath = resolve(options.instancesPath);
    this.imagesType = options.imagesType ?? 'default';
    this.useCowImages = options.useCowImages ?? true;
    const preallocateImages = options.preallocateImages ?? 'none';
    if (preallocateImages !== 'none' && preallocateImages !== 'space') {
      throw invalidArgument("'none' or 'space'", 'preallocateImages', preallocateImages);
    }
    const locks = options.locks ?? options.cache?.locks ?? new Locks({ lockPath: join(this.instancesPath, 'locks') });
    const cache =
      options.cache ??
      new BaseImageCache({
        instancesPath: this.instancesPath,
        ...(options.imageCacheSubdirectoryName === undefined ? {} : { imageCacheSubdirectoryName: options.imageCacheSubdirectoryName }),
        locks,
      });
    this.#rbdDriver = options.rbd?.driver;
    this.#lvmDriver = options.lvm?.driver;
    this.context = Object.freeze({
      instancesPath: this.instancesPath,
      cache,
      locks,
      qemu: options.qemu ?? new QemuImg(),
      tools: { ...defaultTools, ...options.tools },
      preallocateImages,
      discardMode: options.discardMode,
      rbd: options.rbd,
      lvm: options.lvm,
      qcow2: checkQcow2Options(options.qcow2),
      imageService: options.imageService,
      diskOps: new DiskOpsLimiter(maxConcurrentDiskOps(options.maxConcurrentDiskOps)),
      rbdDriver: () => this.#openRbdDriver(),
      lvmDriver: () => this.#openLvmDriver(),
      diskInfo: (instanceDir: string) => DiskInfo.forInstance(instanceDir, { locks }),
    });
    // Fail early on a misconfigured type, as nova does when it starts.
    this.storeClass(this.imagesType);
  }

  /**
   * Adds a store type to every Backend: how a store of your own plugs in,
   * with one call (declare it in {@link DiskStoreTypes} for typed disks).
   *
   * @example
   * ```ts
   * Backend.register('ploop', PloopStore); // class PloopStore implements DiskStore
   * new Backend({ instancesPath, imagesType: 'ploop' });
   * ```
   */
  static register<K extends keyof DiskStoreTypes>(type: K, storeClass: DiskStoreClass<DiskStoreTypes[K]>): void {
    if (typeof type !== 'string' || !TYPE.test(type) || String(type) === 'default') throw invalidArgument('an images type name', 'type', type);
    if (typeof storeClass !== 'function') throw invalidArgument('a store class', 'storeClass', storeClass);
    registry.set(type, storeClass);
  }

  /**
   * The images types known, `default` included.
   *
   * @example
   * ```ts
   * Backend.types(); // ['default', 'flat', 'lvm', 'qcow2', 'raw', 'rbd']
   * ```
   */
  static types(): string[] {
    return ['default', ...[...registry.keys()].sort()];
  }

  /**
   * The store class of `type` (default: this backend's images type); an
   * unknown type is an {@link UnknownImageTypeError} naming the valid ones.
   *
   * @example
   * ```ts
   * new Backend({ instancesPath, imagesType: 'default' }).storeClass() === Qcow2Store; // true (useCowImages)
   * ```
   */
  storeClass(type: ImagesType = this.imagesType): DiskStoreClass {
    const key = type === 'default' ? (this.useCowImages ? 'qcow2' : 'flat') : type;
    const storeClass = typeof key === 'string' ? registry.get(key) : undefined;
    if (!storeClass) {
      const valid = Backend.types();
      throw new UnknownImageTypeError(`Unknown image type '${String(type)}'; valid types are: ${valid.join(', ')}`, {
        operation: 'backend',
        validTypes: valid,
      });
    }
    return storeClass;
  }

  /**
   * The disk `diskName` of `instance` (nova's `by_name`), in the store of
   * `type` (default: this backend's images type), typed by that type.
   *
   * @example
   * ```ts
   * const root = backend.image({ uuid: '7f3c…' }, 'disk');
   * const swap = backend.image({ uuid: '7f3c…' }, 'disk.swap', 'raw'); // Disk<FlatStore>
   * ```
   */
  image<K extends ImagesType = T>(instance: InstanceRef, diskName: string, type?: K): Disk<StoreOf<K>>;
  image(instance: InstanceRef, diskName: string, type?: ImagesType): Disk {
    const StoreClass = this.storeClass(type);
    return new Disk(this.context, new StoreClass(this.context, { instance, diskName }));
  }

  /**
   * The disk known by its libvirt path (nova's `by_libvirt_path`): a file, a
   * device, or `pool/name` for rbd. For snapshots, resizes and removal of an
   * existing disk.
   *
   * @example
   * ```ts
   * await backend.disk('/var/lib/nova/instances/7f3c…/disk').snapshotExtract('/tmp/snap.qcow2', 'qcow2');
   * ```
   */
  disk<K extends ImagesType = T>(diskPath: string, type?: K, instance?: InstanceRef): Disk<StoreOf<K>>;
  disk(diskPath: string, type?: ImagesType, instance?: InstanceRef): Disk {
    if (typeof diskPath !== 'string' || diskPath === '') throw invalidArgument('a disk path', 'diskPath', diskPath);
    const StoreClass = this.storeClass(type);
    return new Disk(this.context, new StoreClass(this.context, instance ? { path: diskPath, instance } : { path: diskPath }));
  }

  /**
   * Closes the cluster connection (rbd) and the lvm2 driver (lvm) this backend opened; injected drivers are left to their owners.
   *
   * @example
   * ```ts
   * await backend.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#ownsLvmDriver && this.#lvmDriver) {
      const lvm = this.#lvmDriver;
      this.#lvmDriver = undefined;
      this.#ownsLvmDriver = false;
      await lvm.close();
    }
    const driver = this.#rbdDriver;
    if (this.#ownsRbdDriver && driver instanceof RbdDriver) {
      this.#rbdDriver = undefined;
      this.#ownsRbdDriver = false;
      await driver.close();
    }
  }

  /**
   * {@link Backend.close}, for `await using backend = new Backend(...)`.
   *
   * @example
   * ```ts
   * { await using backend = new Backend({ instancesPath }); } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #openLvmDriver(): LvmDriver {
    if (!this.#lvmDriver) {
      const { driver: _driver, ...options } = this.context.lvm ?? {};
      this.#lvmDriver = createLvmDriver(options);
      this.#ownsLvmDriver = true;
    }
    return this.#lvmDriver;
  }

  #openRbdDriver(): RbdStoreDriver {
    if (!this.#rbdDriver) {
      const rbd = this.context.rbd ?? {};
      this.#rbdDriver = new RbdDriver({
        pool: rbd.pool ?? 'rbd',
        ...(rbd.cephConf ? { cephConf: rbd.cephConf } : {}),
        ...(rbd.user ? { user: rbd.user } : {}),
        ...(rbd.keyring ? { keyring: rbd.keyring } : {}),
      });
      this.#ownsRbdDriver = true;
    }
    return this.#rbdDriver;
  }
}
