import type { DiskFormat } from '../diskinfo/formats.js';
import { DiskNotFoundError, LvmNotFoundError } from '../errors.js';
import type { DiskAuth, DiskIoMode, DiskSource } from '../libvirt/LibvirtDiskConfig.js';
import type { ClearVolumeOptions, LvmDriver } from '../lvm/LvmDriver.js';
import { parseVolumePath, volumeName, volumePath } from '../lvm/names.js';
import { resolveLvmOptions } from '../lvm/options.js';
import { deleteVolumes, provisionFromBase, provisionGenerated } from '../lvm/provision.js';
import type { CreateRequest, CreateResult, DiskStore, ExtractOptions, RemoveOptions } from './DiskStore.js';
import { targetFormat } from './FileStore.js';
import type { DiskLocation, StoreContext } from './types.js';

/**
 * A disk that is an LVM logical volume `/dev/<vg>/<uuid>_<disk>` (nova's
 * `Lvm`, images type `lvm`): the cached base written into a new volume of
 * `max(size, base size)` bytes and its file system grown; a generated disk
 * (ephemeral, swap) written straight into a new volume. A volume whose
 * writing fails is removed. Not preallocated (the volume is allocated
 * already, or sparse on purpose); opened with `io="native"` unless sparse (as
 * nova). {@link LvmStore.remove} wipes it per `volumeClear` and removes it.
 *
 * @example
 * ```ts
 * const backend = new Backend({ instancesPath, imagesType: 'lvm', lvm: { volumeGroup: 'nova-vg' } });
 * const disk = backend.image({ uuid }, 'disk');
 * await disk.cache({ fetch, filename: cacheFileName(imageId), imageId, size: 20 * 2 ** 30 });
 * await disk.remove(); // wiped per volumeClear, then removed
 * ```
 */
export class LvmStore implements DiskStore {
  /** `lvm`. */
  readonly kind = 'lvm';
  /** `/dev/<vg>/<lv>`. */
  readonly path: string;
  /** `block`. */
  readonly sourceType = 'block' as const;
  /** `raw`. */
  readonly driverFormat: DiskFormat = 'raw';
  /** False: a volume is allocated when made (or sparse on purpose). */
  readonly preallocate = false;
  /** `native` unless the volume is sparse (nova). */
  readonly driverIo: DiskIoMode | undefined;
  /** None: a volume's format is always raw. */
  readonly diskInfo = undefined;
  /** False. */
  readonly sharedBlockStorage = false;
  /** False. */
  readonly fileInInstancePath = false;
  /** False: the base is written into the volume and not read again. */
  readonly keepsBase = false;
  /** The volume group: nova's `images_volume_group`, or the group named by the path given to {@link Backend.disk}. */
  readonly volumeGroup: string;
  /** The logical volume's name: `<instance uuid>_<disk name>` (underscores in the disk name doubled), or the one named by the path. */
  readonly logicalVolume: string;
  /** nova's `sparse_logical_volumes`. */
  readonly sparse: boolean;
  /** nova's `volume_clear` and `volume_clear_size`, applied by {@link LvmStore.remove}. */
  readonly clear: ClearVolumeOptions;
  readonly #context: StoreContext;
  readonly #driver: LvmDriver;

  constructor(context: StoreContext, location: DiskLocation) {
    const settings = resolveLvmOptions(context.lvm);
    const { volumeGroup, logicalVolume } =
      'path' in location
        ? parseVolumePath(location.path)
        : { volumeGroup: settings.volumeGroup, logicalVolume: volumeName(location.instance?.uuid, location.diskName) };
    this.#context = context;
    this.path = volumePath(volumeGroup, logicalVolume);
    this.volumeGroup = volumeGroup;
    this.logicalVolume = logicalVolume;
    this.sparse = settings.sparse;
    this.driverIo = settings.sparse ? undefined : 'native';
    this.clear = { volumeClear: settings.volumeClear, volumeClearSizeMiB: settings.volumeClearSizeMiB };
    this.#driver = context.lvmDriver();
  }

  /**
   * Whether the logical volume exists (in lvm2's metadata; without device-mapper it has no device node).
   *
   * @example
   * ```ts
   * await store.exists();
   * ```
   */
  async exists(): Promise<boolean> {
    try {
      await this.#driver.volumeInfo(this.path);
      return true;
    } catch (error) {
      if (error instanceof LvmNotFoundError || error instanceof DiskNotFoundError) return false;
      throw error;
    }
  }

  /**
   * The volume's size in bytes.
   *
   * @example
   * ```ts
   * await store.size();
   * ```
   */
  async size(): Promise<number> {
    return this.#driver.getVolumeSize(this.path);
  }

  /**
   * True for an ephemeral disk with a size: nova writes it straight into a new volume.
   *
   * @example
   * ```ts
   * store.generatesInPlace({ ephemeralSize: 2 ** 30, size: 2 ** 30 }); // true
   * ```
   */
  generatesInPlace(options: { ephemeralSize?: number | undefined; size?: number | undefined }): boolean {
    return options.ephemeralSize !== undefined && !!options.size;
  }

  /**
   * A new volume: `write`'s output, or the base written into it and its file
   * system grown; removed again if anything fails.
   *
   * @example
   * ```ts
   * await store.create({ kind: 'base', base: { path, format: 'raw', virtualSize }, size: 20 * 2 ** 30 });
   * ```
   */
  async create(request: CreateRequest): Promise<CreateResult> {
    const common = { driver: this.#driver, volumeGroup: this.volumeGroup, logicalVolume: this.logicalVolume, sparse: this.sparse };
    if (request.kind === 'generated') {
      const volume = await provisionGenerated({ ...common, size: request.size, write: (path) => request.write(path) });
      return { created: true, format: 'raw', virtualSize: volume.size };
    }
    // Writing the base into the volume is disk work: queued behind the backend's limit, inside the base's lock.
    const { volume } = await request.holdBase((signal) =>
      this.#context.diskOps.run(
        () =>
          provisionFromBase({
            ...common,
            size: request.size,
            base: { path: request.base.path, format: request.base.format, virtualSize: request.base.virtualSize },
            qemuImg: this.#context.qemu,
            signal,
          }),
        { signal, name: 'copy' },
      ),
    );
    return { created: true, format: 'raw', virtualSize: volume.size };
  }

  /**
   * Never shrinks, and does not grow either: like nova's `Lvm.resize_image`,
   * the volume was made at its size. Resolves false.
   *
   * @example
   * ```ts
   * await store.grow(size); // false
   * ```
   */
  async grow(_size: number): Promise<boolean> {
    return false;
  }

  /**
   * Deletes the disk as nova's `_cleanup_lvm` does: wipes the volume per
   * `volumeClear` (`none`, `zero`, `shred`; the first `volumeClearSizeMiB`
   * MiB, 0 = all) and removes it. A volume already gone is not an error.
   *
   * @example
   * ```ts
   * await store.remove({ volumeClear: 'zero' });
   * ```
   */
  async remove(options: RemoveOptions = {}): Promise<void> {
    if (!(await this.exists())) return;
    await deleteVolumes(this.#driver, [this.path], {
      volumeClear: options.volumeClear ?? this.clear.volumeClear,
      volumeClearSizeMiB: options.volumeClearSizeMiB ?? this.clear.volumeClearSizeMiB,
    });
  }

  /**
   * Converts the volume (raw) to `target` with qemu-img.
   *
   * @example
   * ```ts
   * await store.extract('/tmp/snap.qcow2', 'qcow2');
   * ```
   */
  async extract(target: string, format: string, options: ExtractOptions = {}): Promise<void> {
    await this.#context.qemu.convert(this.path, target, {
      srcFormat: 'raw',
      dstFormat: targetFormat(format, options.compress),
      // Opened as raw: the guest's bytes are never followed.
      trusted: true,
      ...(options.compress ? { compress: true } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * The block device.
   *
   * @example
   * ```ts
   * await store.source(); // { type: 'block', dev: '/dev/nova-vg/uuid_disk' }
   * ```
   */
  async source(): Promise<DiskSource> {
    return { type: 'block', dev: this.path };
  }

  /**
   * None.
   *
   * @example
   * ```ts
   * await store.auth(); // undefined
   * ```
   */
  async auth(): Promise<DiskAuth | undefined> {
    return undefined;
  }

  /**
   * Always raw.
   *
   * @example
   * ```ts
   * await store.detectFormat(); // 'raw'
   * ```
   */
  async detectFormat(): Promise<DiskFormat> {
    return 'raw';
  }
}
