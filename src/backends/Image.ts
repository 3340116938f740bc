import { lstat, mkdir, open, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

import { DiskInfo, DISK_INFO_FILENAME } from '../diskinfo/DiskInfo.js';
import type { DiskFormat } from '../diskinfo/formats.js';
import {
  ImageIoError,
  ImageUnacceptableError,
  ImageUnsafeError,
  NotSupportedError,
  invalidArgument,
} from '../errors.js';
import { errnoName, messageOf, systemErrorDetails } from '../fsutil/errno.js';
import { checkFileName } from '../names.js';
import type { ImageInfo } from '../image/inspect.js';
import { effectiveDriverIo } from '../libvirt/diskConflicts.js';
import { LibvirtDiskConfig, type DiskAuth, type DiskIoMode, type DiskSource } from '../libvirt/LibvirtDiskConfig.js';
import { verifyBaseSize } from '../verify.js';
import type {
  BackendContext,
  CacheOptions,
  CloneFirstOptions,
  CreateImageOptions,
  ImageLocation,
  InstanceRef,
  LibvirtInfoOptions,
  PrepareTemplate,
} from './types.js';

/** How a subclass describes itself to {@link Image}. */
export interface ImageInit {
  /** libvirt's name of the disk: a file path, a device, or nova's `rbd:pool/image…` pseudo-path. */
  path: string;
  /** libvirt's `<disk type>`: `file` (Flat, Qcow2), `block` (Lvm) or `network` (Rbd). */
  sourceType: 'file' | 'block' | 'network';
  /** The format the disk is created in (nova's `driver_format`). */
  driverFormat: DiskFormat;
  /** Whether the disk is a block device (Lvm) rather than a file or a network volume. */
  isBlockDev: boolean;
  /** Whether `preallocateImages: 'space'` applies to this backend. */
  preallocate: boolean;
  /** Whether the disk's format is remembered in its instance's disk.info (file backends). */
  usesDiskInfo: boolean;
  /** libvirt's `<driver io>`; default `native` when preallocating, else unset. */
  driverIo?: DiskIoMode;
}


// nova's `_can_fallocate` result, once per image class and instances folder.
const fallocateChecks = new WeakMap<object, Map<string, Promise<boolean>>>();

/**
 * One guest disk on one storage backend: nova's `imagebackend.Image`. The
 * subclasses ({@link Flat}, {@link Qcow2}, {@link Lvm}, and Rbd) decide how a
 * disk is made from a cached base image; this class holds what they share:
 * the cache protocol, size checks, disk.info, preallocation and the libvirt
 * configuration. Get instances from {@link Backend.image} or
 * {@link Backend.snapshot}.
 *
 * @example
 * ```ts
 * const disk: Image = backend.image({ uuid }, 'disk');
 * if (!(await disk.exists())) await disk.cache({ fetch, filename, imageId, size });
 * ```
 */
export abstract class Image {
  /** libvirt's name of the disk: a file path, a device, or `rbd:pool/image…`. */
  readonly path: string;
  /** libvirt's `<disk type>` and the kind of `<source>`: `file` (Flat, Qcow2), `block` (Lvm) or `network` (Rbd). */
  readonly sourceType: 'file' | 'block' | 'network';
  /** The format the disk is created in; {@link Image.resolveDriverFormat} gives the one to open it with. */
  readonly driverFormat: DiskFormat;
  /** Whether the disk is a block device (Lvm) rather than a file or a network volume. */
  readonly isBlockDev: boolean;
  /** `preallocateImages: 'space'` is set and applies to this backend. */
  readonly preallocate: boolean;
  /** `native` when preallocating or a non-sparse volume (as nova sets it), else unset. */
  readonly driverIo: DiskIoMode | undefined;
  /** The instance's disk.info, for backends that record formats. */
  readonly diskInfo: DiskInfo | undefined;
  /** The {@link Backend}'s shared context: cache, locks, qemu-img runner, tools, settings and drivers. */
  protected readonly context: BackendContext;

  protected constructor(context: BackendContext, init: ImageInit) {
    this.context = context;
    this.path = init.path;
    this.sourceType = init.sourceType;
    this.driverFormat = init.driverFormat;
    this.isBlockDev = init.isBlockDev;
    this.preallocate = init.preallocate && context.preallocateImages === 'space';
    this.driverIo = init.driverIo ?? (this.preallocate ? 'native' : undefined);
    this.diskInfo = init.usesDiskInfo ? new DiskInfo(join(dirname(this.path), DISK_INFO_FILENAME)) : undefined;
  }

  /**
   * The path of a disk in its instance folder: `<instancesPath>/<uuid>/<diskName>`
   * (nova's `get_instance_path` joined with the disk name).
   *
   * @example
   * ```ts
   * Image.instanceDiskPath('/var/lib/nova/instances', { uuid: '7f3c…' }, 'disk'); // '/var/lib/nova/instances/7f3c…/disk'
   * ```
   */
  static instanceDiskPath(instancesPath: string, instance: InstanceRef, diskName: string): string {
    checkName('instance.uuid', instance?.uuid);
    checkName('diskName', diskName);
    return join(instancesPath, instance.uuid, diskName);
  }

  /**
   * The file of a file-backed disk: the path libvirt knows it by, or its
   * place in the instance folder.
   *
   * @example
   * ```ts
   * Image.fileDiskPath('/var/lib/nova/instances', { instance: { uuid }, diskName: 'disk' });
   * ```
   */
  static fileDiskPath(instancesPath: string, location: ImageLocation): string {
    return 'path' in location
      ? resolve(location.path)
      : Image.instanceDiskPath(instancesPath, location.instance, location.diskName);
  }

  /**
   * Makes the disk from the template `prepare` writes (nova's `create_image`).
   * {@link Image.cache} calls it when the disk or its base is missing.
   *
   * @example
   * ```ts
   * await disk.createImage((target) => download(imageId, target), base, 20 * 2 ** 30, { imageId });
   * ```
   */
  abstract createImage(prepare: PrepareTemplate, base: string, size: number | undefined, options?: CreateImageOptions): Promise<void>;

  /**
   * Grows the disk to `size` bytes; a disk already that large is left as it is
   * (nova's `resize_image` through `disk.extend`, which never shrinks).
   *
   * @example
   * ```ts
   * await disk.resizeImage(40 * 2 ** 30);
   * ```
   */
  abstract resizeImage(size: number): Promise<void>;

  /**
   * Whether the disk exists.
   *
   * @example
   * ```ts
   * if (!(await disk.exists())) await disk.cache({ fetch, filename, size, imageId });
   * ```
   */
  async exists(): Promise<boolean> {
    return pathExists(this.path);
  }

  /**
   * Makes sure the disk exists, fetching its base image into the cache first
   * when needed (nova's `Image.cache`). The base `filename` is fetched at most
   * once across processes sharing the instances folder (under the lock
   * `<instancesPath>/locks/nova-<filename>`); a disk without `imageId` is
   * generated in place by `fetch` (ephemeral and swap disks). When `size` is
   * larger than the base, the disk is grown to it; with
   * `preallocateImages: 'space'` its blocks are then allocated.
   *
   * @example
   * ```ts
   * const disk = backend.image({ uuid }, 'disk');
   * await disk.cache({
   *   filename: cacheFileName(imageId), imageId, size: 20 * 2 ** 30,
   *   fetch: async ({ target, signal }) => download(imageId, target, { signal }),
   * });
   * ```
   */
  async cache(options: CacheOptions): Promise<void> {
    if (typeof options !== 'object' || options === null) throw invalidArgument('cache options', 'options', options);
    const { fetch, filename, size, imageId, ephemeralSize, safe, clone, signal } = options;
    if (typeof fetch !== 'function') throw invalidArgument('a function', 'fetch', fetch);
    if (clone !== undefined && (typeof clone !== 'object' || clone === null)) throw invalidArgument('clone options', 'clone', clone);
    if (clone !== undefined && imageId === undefined) throw invalidArgument('an image id (clone needs one)', 'imageId', imageId);
    if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) throw invalidArgument('a byte count', 'size', size);
    if (imageId !== undefined && (typeof imageId !== 'string' || imageId === '')) throw invalidArgument('an image id', 'imageId', imageId);
    const cache = this.context.cache;
    const base = cache.path(filename);
    const maxSize = size ? { maxSize: size } : {};
    const prepare: PrepareTemplate = async (target) => {
      if (target === base) {
        if (clone && imageId !== undefined && (await this.#cloneInstead(clone, imageId))) return;
        await cache.fetchOnce(filename, fetch, { ...maxSize, ...(signal ? { signal } : {}) });
        return;
      }
      // A disk generated in place, under the base's lock as nova does. A
      // file left half-written is removed; a volume is the backend's to remove.
      await this.ensureDiskFolder();
      await this.context.locks.synchronized(
        filename,
        async ({ signal: lost }) => {
          const write = () => fetch({ target, ...maxSize, signal: signal ? AbortSignal.any([lost, signal]) : lost });
          await (this.sourceType === 'file' ? removeOnError(target, write) : write());
        },
        signal ? { signal } : {},
      );
    };
    const createOptions: CreateImageOptions = {};
    if (imageId !== undefined) createOptions.imageId = imageId;
    if (ephemeralSize !== undefined) createOptions.ephemeralSize = ephemeralSize;
    if (safe !== undefined) createOptions.safe = safe;
    if (signal !== undefined) createOptions.signal = signal;
    // The local check first: a cloned RBD disk has no local base, and this spares it a round trip.
    if (!(await pathExists(base)) || !(await this.exists())) await this.createImage(prepare, base, size, createOptions);
    if (size) {
      // A generated disk has no base: there is nothing to compare with (nova bug 1608934).
      if ((await pathExists(base)) && size > (await this.getDiskSize(base))) await this.resizeImage(size);
      if (this.preallocate && (await this.canFallocate()) && (await this.context.tools.isWritable(this.path))) {
        await this.context.tools.fallocateFile(this.path, { size, keepSize: true });
      }
    }
  }

  /**
   * nova's `clone_fallback_to_fetch`: true when the disk is now a clone of
   * the image, false when the image cannot be cloned and the base must be
   * fetched. Unlike nova, the clone runs outside the base's lock and is tried
   * even when the base is cached: it copies no data and never touches the
   * cache, and a clone is cheaper than importing the cached base.
   */
  async #cloneInstead(clone: CloneFirstOptions, imageId: string): Promise<boolean> {
    try {
      await this.clone(clone.context, imageId);
      return true;
    } catch (error) {
      if (!(error instanceof ImageUnacceptableError) || clone.neverDownload) throw error;
      return false;
    }
  }

  /**
   * Whether this backend can preallocate here: checked once per image class
   * and instances folder by allocating a 1-byte test file next to the disk
   * (nova's `_can_fallocate`). Backends that do not preallocate answer false.
   *
   * @example
   * ```ts
   * if (await disk.canFallocate()) console.log('preallocation works on this filesystem');
   * ```
   */
  async canFallocate(): Promise<boolean> {
    if (!this.preallocate || this.sourceType !== 'file') return false;
    let perClass = fallocateChecks.get(this.constructor);
    if (!perClass) fallocateChecks.set(this.constructor, (perClass = new Map()));
    const key = this.context.instancesPath;
    let check = perClass.get(key);
    if (!check) {
      check = this.#probeFallocate();
      perClass.set(key, check);
    }
    return check;
  }

  async #probeFallocate(): Promise<boolean> {
    const probe = `${this.path}.fallocate_test`;
    try {
      await (await open(probe, 'w')).close();
      await this.context.tools.fallocateFile(probe, { size: 1 });
      return true;
    } catch {
      return false;
    } finally {
      await rm(probe, { force: true }).catch(() => undefined);
    }
  }

  /**
   * Refuses a base image larger than the disk asked for (nova's
   * `verify_base_size`): {@link FlavorDiskTooSmallError} carrying both sizes.
   * `size` undefined or 0 always passes; `baseSize` 0 means "look it up".
   *
   * @example
   * ```ts
   * await disk.verifyBaseSize('/var/lib/nova/instances/_base/abc', 10 * 2 ** 30);
   * ```
   */
  async verifyBaseSize(base: string, size: number | undefined, baseSize = 0): Promise<void> {
    if (size === undefined) return;
    let actual = baseSize;
    if (size && !actual) actual = await this.getDiskSize(base);
    verifyBaseSize(actual, size, { path: base });
  }

  /**
   * The virtual size in bytes of the image at `path`, read from its header
   * (nova's `disk.get_disk_size`). Rbd answers with its volume's size instead.
   *
   * @example
   * ```ts
   * const bytes = await disk.getDiskSize('/var/lib/nova/instances/_base/abc');
   * ```
   */
  async getDiskSize(path: string): Promise<number> {
    return (await this.context.tools.inspect(path)).virtualSize;
  }

  /**
   * The format to open the disk with. File backends remember it in the
   * instance's disk.info the first time it is asked (normally right after the
   * disk is made) and trust that record afterwards, so a guest that writes a
   * qcow2 header into its raw disk cannot change how the host opens it (nova
   * bug 1221190). Other backends answer with their fixed format.
   *
   * @example
   * ```ts
   * const format = await disk.resolveDriverFormat(); // 'raw' | 'qcow2' | …
   * ```
   */
  async resolveDriverFormat(): Promise<DiskFormat> {
    if (!this.diskInfo) return this.detectDriverFormat();
    return this.diskInfo.resolveFormat(this.path, () => this.detectDriverFormat());
  }

  /** The format of a disk not yet in disk.info (nova's `_get_driver_format`). */
  protected async detectDriverFormat(): Promise<DiskFormat> {
    return this.driverFormat;
  }

  /**
   * The libvirt `<disk>` configuration of this disk (nova's `libvirt_info`):
   * source, driver `qemu` with the resolved format, the cache mode, discard
   * and io modes, the target, boot order, SCSI unit, and the flavor's
   * `quota:disk_*` extra specs as `<iotune>`.
   *
   * @example
   * ```ts
   * const cfg = await disk.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', deviceType: 'disk', cacheMode: 'none',
   *   extraSpecs: { 'quota:disk_total_iops_sec': '500' }, hypervisorVersion: 7002000, bootOrder: 1 });
   * console.log(cfg.toXml());
   * ```
   */
  async libvirtInfo(options: LibvirtInfoOptions): Promise<LibvirtDiskConfig> {
    if (typeof options !== 'object' || options === null) throw invalidArgument('libvirt info options', 'options', options);
    const auth = await this.diskAuth();
    const io = effectiveDriverIo(this.driverIo, options.cacheMode);
    return LibvirtDiskConfig.fromExtraSpecs(
      {
        source: await this.diskSource(),
        deviceType: options.deviceType ?? 'disk',
        driverName: 'qemu',
        driverFormat: await this.libvirtDriverFormat(),
        ...(options.cacheMode === undefined ? {} : { driverCache: options.cacheMode }),
        // nova's _set_cache_mode: io='native' only where the cache mode allows it.
        ...(io === undefined ? {} : { driverIo: io }),
        ...(this.context.discardMode === undefined ? {} : { driverDiscard: this.context.discardMode }),
        targetDev: options.diskDev,
        targetBus: options.diskBus,
        ...(options.bootOrder === undefined ? {} : { bootOrder: options.bootOrder }),
        ...(options.diskBus === 'scsi' && options.diskUnit !== undefined ? { diskUnit: options.diskUnit } : {}),
        ...(auth ? { auth } : {}),
      },
      options.extraSpecs,
    );
  }

  /** `<source>` of the disk. */
  protected async diskSource(): Promise<DiskSource> {
    return this.sourceType === 'block' ? { type: 'block', dev: this.path } : { type: 'file', path: this.path };
  }

  /** `<auth>` of a network disk. */
  protected async diskAuth(): Promise<DiskAuth | undefined> {
    return undefined;
  }

  /** `<driver type>`: the recorded format of an existing disk, else the format it will be made in. */
  protected async libvirtDriverFormat(): Promise<DiskFormat> {
    return (await this.exists()) ? this.resolveDriverFormat() : this.driverFormat;
  }

  /**
   * Copies the disk to `target` in `outFormat` with qemu-img convert, the
   * source format given explicitly (nova's `snapshot_extract`, the cold
   * snapshot). A target this call created is removed if the copy fails.
   *
   * @example
   * ```ts
   * await disk.snapshotExtract('/var/lib/nova/instances/snapshots/tmpabc/snap', 'qcow2');
   * ```
   */
  async snapshotExtract(target: string, outFormat: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.context.qemu.convert(this.path, target, {
      srcFormat: await this.resolveDriverFormat(),
      dstFormat: outFormat,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Whether the disk lives on storage every host sees (Rbd: true).
   *
   * @example
   * ```ts
   * if (!disk.isSharedBlockStorage()) await copyDiskToDestination();
   * ```
   */
  isSharedBlockStorage(): boolean {
    return false;
  }

  /**
   * Whether the disk is a file in the instance folder (Flat, Qcow2).
   *
   * @example
   * ```ts
   * disk.isFileInInstancePath(); // true for Flat and Qcow2
   * ```
   */
  isFileInInstancePath(): boolean {
    return false;
  }

  /**
   * Makes the disk a clone of an image the image service stores on the same
   * cluster. Only Rbd can; the others reject with {@link ImageUnacceptableError}
   * so the caller falls back to {@link Image.cache}.
   *
   * @example
   * ```ts
   * try { await disk.clone(context, imageId) } catch (e) { if (e.code === 'IMAGE_UNACCEPTABLE') await disk.cache(...) }
   * ```
   */
  async clone(_context: unknown, imageId: string): Promise<void> {
    throw new ImageUnacceptableError(`image ${imageId} cannot be cloned: clone() is not implemented by ${this.constructor.name}`, {
      operation: 'clone',
      path: this.path,
    });
  }

  /**
   * Makes a cloned disk independent of its parent. Rbd only; others reject with `NOT_SUPPORTED`.
   *
   * @example
   * ```ts
   * await disk.flatten();
   * ```
   */
  async flatten(): Promise<void> {
    throw this.notSupported('flatten');
  }

  /**
   * Snapshots the disk where the image service can reference it directly and
   * returns that location's URL. Rbd only; others reject with `NOT_SUPPORTED`.
   *
   * @example
   * ```ts
   * const url = await disk.directSnapshot(context, 'snap-uuid', 'raw', newImageId, baseImageId);
   * ```
   */
  async directSnapshot(_context: unknown, _snapshotName: string, _imageFormat: string, _imageId: string, _baseImageId: string): Promise<string> {
    throw this.notSupported('directSnapshot');
  }

  /**
   * Undoes what a failed {@link Image.directSnapshot} left. Does nothing on
   * backends without direct snapshots (so cleanup code can call it always).
   *
   * @example
   * ```ts
   * await disk.cleanupDirectSnapshot({ url }, { alsoDestroyVolume: true, ignoreErrors: true });
   * ```
   */
  async cleanupDirectSnapshot(
    _location: { url: string } | undefined,
    _options: { alsoDestroyVolume?: boolean; ignoreErrors?: boolean } = {},
  ): Promise<void> {}

  /**
   * Puts a local file into this backend's store as the instance's disk
   * `remoteName`. For file backends the local file already is the disk, so
   * this resolves when `localFile` is this disk's path and rejects with
   * `NOT_SUPPORTED` otherwise; Rbd imports it.
   *
   * @example
   * ```ts
   * await backend.image(instance, 'disk.config').importFile(instance, '/var/lib/nova/instances/uuid/disk.config', 'disk.config');
   * ```
   */
  async importFile(_instance: InstanceRef, localFile: string, _remoteName: string): Promise<void> {
    if (this.sourceType === 'file' && typeof localFile === 'string' && resolve(localFile) === this.path) return;
    throw this.notSupported('importFile');
  }

  /**
   * Takes a snapshot of the disk. Rbd only; others reject with `NOT_SUPPORTED`.
   *
   * @example
   * ```ts
   * await disk.createSnap('nova-resize');
   * ```
   */
  async createSnap(_name: string): Promise<void> {
    throw this.notSupported('createSnap');
  }

  /**
   * Removes a snapshot; resolves false when there was none to remove (always,
   * on backends without snapshots, so cleanup paths can call it on any disk).
   *
   * @example
   * ```ts
   * await disk.removeSnap('nova-resize', { ignoreErrors: true });
   * ```
   */
  async removeSnap(_name: string, _options: { ignoreErrors?: boolean } = {}): Promise<boolean> {
    return false;
  }

  /**
   * Rolls the disk back to a snapshot. Rbd only; others reject with `NOT_SUPPORTED`.
   *
   * @example
   * ```ts
   * await disk.rollbackToSnap('nova-resize');
   * ```
   */
  async rollbackToSnap(_name: string): Promise<void> {
    throw this.notSupported('rollbackToSnap');
  }

  /** The `NOT_SUPPORTED` error an operation this backend lacks rejects with, naming the operation and the backend class. */
  protected notSupported(operation: string): NotSupportedError {
    return new NotSupportedError(`${operation} is not supported by the ${this.constructor.name} backend`, {
      operation,
      path: this.path,
    });
  }

  /**
   * Refuses a base image that refers to other files or is otherwise unsafe to
   * hand to qemu (a backing file, an external data file...): nova's
   * format_inspector `safety_check`. Returns the inspection.
   */
  protected async checkBaseSafety(base: string): Promise<ImageInfo> {
    const info = await this.context.tools.inspect(base);
    const reasons = [...info.safety.reasons];
    if (info.backingFile !== undefined && !reasons.some((r) => r.includes('backing'))) reasons.push(`backing file: '${info.backingFile}'`);
    if (info.dataFile !== undefined && !reasons.some((r) => r.includes('data file'))) reasons.push(`data file: '${info.dataFile}'`);
    if (!info.safety.safe || reasons.length > 0) {
      throw new ImageUnsafeError(`base image ${base} failed the safety check: ${reasons.join('; ')}`, {
        reasons,
        operation: 'createImage',
        path: base,
      });
    }
    return info;
  }

  /** Creates the folder the disk goes in (the instance folder), as the disk is about to be written. */
  protected async ensureDiskFolder(): Promise<void> {
    if (this.sourceType !== 'file') return;
    try {
      await mkdir(dirname(this.path), { recursive: true });
    } catch (error) {
      throw new ImageIoError(`cannot create ${dirname(this.path)}: ${messageOf(error)}`, systemErrorDetails(error, 'createImage', dirname(this.path)));
    }
  }

  /** Runs `fn` under the lock of a base file, as nova's create_image does, so the cache manager does not remove it meanwhile. */
  protected underBaseLock<T>(base: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.context.locks.synchronized(basename(base), fn, signal ? { signal } : {});
  }
}

function checkName(name: string, value: unknown): asserts value is string {
  checkFileName(value, name);
}

/** Whether something is at `path` (a dangling symlink counts). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errnoName(error) === 'ENOENT') return false;
    throw new ImageIoError(`cannot check ${path}: ${messageOf(error)}`, systemErrorDetails(error, 'exists', path));
  }
}

/** Runs `fn`; if it fails and `path` did not exist before, removes what it left there (nova's `remove_path_on_error`). */
export async function removeOnError<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const existed = await pathExists(path);
  try {
    return await fn();
  } catch (error) {
    if (!existed) await rm(path, { force: true, recursive: true }).catch(() => undefined);
    throw error;
  }
}
