import { access, constants } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { BaseImageCache } from '../cache/BaseImageCache.js';
import { Locks, type LockService } from '../cache/Locks.js';
import { copyRawData } from '../blockdev/copy.js';
import { fallocateFile } from '../blockdev/fallocate.js';
import { UnknownImageTypeError, invalidArgument } from '../errors.js';
import { inspect } from '../image/inspect.js';
import { createQcow2Overlay } from '../image/overlay.js';
import type { DiskDiscardMode } from '../libvirt/LibvirtDiskConfig.js';
import { QemuImg } from '../qemu/QemuImg.js';
import { RbdDriver } from '../rbd/RbdDriver.js';
import { createLvmDriver } from '../lvm/options.js';
import type { LvmDriver } from '../lvm/LvmDriver.js';
import { Flat } from './Flat.js';
import { Lvm } from './Lvm.js';
import type { Image } from './Image.js';
import { Qcow2 } from './Qcow2.js';
import { Rbd } from './Rbd.js';
import type {
  BackendContext,
  ImageCache,
  ImageLocation,
  ImageService,
  ImageTools,
  InstanceRef,
  LvmBackendOptions,
  PreallocateImages,
  QemuRunner,
  RbdBackendDriver,
  RbdBackendOptions,
} from './types.js';

/** An image class the registry can build: `new (context, location)`. */
export type ImageClass = new (context: BackendContext, location: ImageLocation) => Image;

/** How a {@link Backend} is set up; nova's option each field replaces is named. */
export interface BackendOptions {
  /** nova's `instances_path`. */
  instancesPath: string;
  /** nova's `image_cache.subdirectory_name`; default `_base`. */
  imageCacheSubdirectoryName?: string;
  /** nova's `libvirt.images_type`: `default`, `raw`/`flat`, `qcow2`, `rbd`, `lvm`. Default `default`. */
  imagesType?: string;
  /** nova's `use_cow_images`: what `default` means (Qcow2 when true, Flat when false). Default true. */
  useCowImages?: boolean;
  /** nova's `preallocate_images`. Default `none`. */
  preallocateImages?: PreallocateImages;
  /** nova's `libvirt.hw_disk_discard`. */
  discardMode?: DiskDiscardMode;
  /** Ceph settings for images type `rbd` (nova's `images_rbd_pool`, `images_rbd_ceph_conf`, `rbd_user`, `rbd_secret_uuid`); the connection opens on first use. */
  rbd?: RbdBackendOptions;
  /** LVM settings for images type `lvm` (nova's `images_volume_group`, `sparse_logical_volumes`, `volume_clear`, `volume_clear_size`). */
  lvm?: LvmBackendOptions;
  /** For Rbd's clone and direct snapshot: where images' locations come from. */
  imageService?: ImageService;
  /** Injected dependencies; the real ones by default. */
  qemu?: QemuRunner;
  /** The base-image cache to use; default a {@link BaseImageCache} of `<instancesPath>/<imageCacheSubdirectoryName>`. */
  cache?: ImageCache;
  /** The locks for fetches and base reads; default the cache's, else {@link Locks} in `<instancesPath>/locks`. */
  locks?: LockService;
  /** Replaces some of the native file operations (inspect, copy, fallocate, overlay, writability); the rest stay the defaults. */
  tools?: Partial<ImageTools>;
}

// Image types every Backend knows; more join with Backend.register.
const registry = new Map<string, ImageClass>([
  ['raw', Flat],
  ['flat', Flat],
  ['qcow2', Qcow2],
  ['lvm', Lvm],
  ['rbd', Rbd],
]);

const TYPE = /^[a-z][a-z0-9_-]*$/;

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
 * The registry of image backends (nova's `imagebackend.Backend`): picks the
 * image class for an images type and builds the {@link Image} of a disk by
 * instance and name, or by the path libvirt knows it by. One Backend shares
 * its cache, locks, qemu-img runner and (for rbd) cluster connection among
 * all the images it builds; {@link Backend.close} closes that connection.
 *
 * @example
 * ```ts
 * const backend = new Backend({ instancesPath: '/var/lib/nova/instances', useCowImages: true });
 * const disk = backend.image({ uuid: instance.uuid }, 'disk');
 * await disk.cache({ fetch, filename: cacheFileName(imageId), imageId, size: 20 * 2 ** 30 });
 * const xml = (await disk.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', cacheMode: 'none' })).toXml();
 * ```
 */
export class Backend {
  /** `instancesPath` made absolute. */
  readonly instancesPath: string;
  /** The images type asked for (`default` when not given); {@link Backend.backend} resolves it to a class. */
  readonly imagesType: string;
  /** nova's `use_cow_images`: whether `default` means Qcow2 (true) or Flat (false). */
  readonly useCowImages: boolean;
  /** What every image this backend builds shares: cache, locks, qemu-img runner, tools, settings and drivers (frozen). */
  readonly context: BackendContext;
  #rbdDriver: RbdBackendDriver | undefined;
  #ownsRbdDriver = false;
  #lvmDriver: LvmDriver | undefined;
  #ownsLvmDriver = false;

  constructor(options: BackendOptions) {
    if (typeof options !== 'object' || options === null) throw invalidArgument('backend options', 'options', options);
    if (typeof options.instancesPath !== 'string' || options.instancesPath === '') {
      throw invalidArgument('a folder path', 'instancesPath', options.instancesPath);
    }
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
      imageService: options.imageService,
      rbdDriver: () => this.#openRbdDriver(),
      lvmDriver: () => this.#openLvmDriver(),
    });
    // Fail early on a misconfigured type, as nova does when it starts.
    this.backend(this.imagesType);
  }

  /**
   * Adds an image type to every Backend: how an image class of your own
   * (a subclass of {@link Image}) plugs in, with one call.
   *
   * @example
   * ```ts
   * class Ploop extends Flat {} // an Image subclass of your own
   * Backend.register('ploop', Ploop);
   * new Backend({ instancesPath, imagesType: 'ploop' });
   * ```
   */
  static register(type: string, imageClass: ImageClass): void {
    if (typeof type !== 'string' || !TYPE.test(type) || type === 'default') throw invalidArgument('an image type name', 'type', type);
    if (typeof imageClass !== 'function') throw invalidArgument('an image class', 'imageClass', imageClass);
    registry.set(type, imageClass);
  }

  /**
   * The image types known, `default` included.
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
   * The image class of `type` (default: this backend's images type); an
   * unknown type is an {@link UnknownImageTypeError} naming the valid ones.
   *
   * @example
   * ```ts
   * backend.backend('qcow2') === Qcow2; // true
   * ```
   */
  backend(type: string = this.imagesType): ImageClass {
    const key = type === 'default' ? (this.useCowImages ? 'qcow2' : 'flat') : type;
    const imageClass = typeof key === 'string' ? registry.get(key) : undefined;
    if (!imageClass) {
      const valid = Backend.types();
      throw new UnknownImageTypeError(`Unknown image type '${String(type)}'; valid types are: ${valid.join(', ')}`, {
        operation: 'backend',
        validTypes: valid,
      });
    }
    return imageClass;
  }

  /**
   * The image of disk `diskName` of `instance` (nova's `by_name`).
   *
   * @example
   * ```ts
   * const root = backend.image({ uuid: '7f3c…' }, 'disk');
   * const swap = backend.image({ uuid: '7f3c…' }, 'disk.swap', 'raw');
   * ```
   */
  image(instance: InstanceRef, diskName: string, type?: string): Image {
    const ImageType = this.backend(type);
    return new ImageType(this.context, { instance, diskName });
  }

  /**
   * The image of a disk known by its libvirt path (nova's `by_libvirt_path`):
   * a file, a device, or `pool/name` for rbd. Used for snapshots and resizes
   * of an existing disk.
   *
   * @example
   * ```ts
   * await backend.snapshot('/var/lib/nova/instances/7f3c…/disk').snapshotExtract('/tmp/snap.qcow2', 'qcow2');
   * ```
   */
  snapshot(diskPath: string, type?: string, instance?: InstanceRef): Image {
    if (typeof diskPath !== 'string' || diskPath === '') throw invalidArgument('a disk path', 'diskPath', diskPath);
    const ImageType = this.backend(type);
    return new ImageType(this.context, instance ? { path: diskPath, instance } : { path: diskPath });
  }

  /**
   * Closes the cluster connection (Rbd) and the lvm2 driver (Lvm) this backend opened; injected drivers are left to their owners.
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

  #openLvmDriver(): LvmDriver {
    if (!this.#lvmDriver) {
      const { driver: _driver, ...options } = this.context.lvm ?? {};
      this.#lvmDriver = createLvmDriver(options);
      this.#ownsLvmDriver = true;
    }
    return this.#lvmDriver;
  }

  #openRbdDriver(): RbdBackendDriver {
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
