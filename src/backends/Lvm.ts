import type { DiskFormat } from '../diskinfo/formats.js';
import { DiskNotFoundError, LvmNotFoundError } from '../errors.js';
import { resolveLvmOptions } from '../lvm/options.js';
import { parseVolumePath, volumeName, volumePath } from '../lvm/names.js';
import { deleteVolumes, provisionFromBase, provisionGenerated } from '../lvm/provision.js';
import type { ClearVolumeOptions, LvmDriver } from '../lvm/LvmDriver.js';
import { Image } from './Image.js';
import type { BackendContext, CreateImageOptions, ImageLocation, PrepareTemplate } from './types.js';

/**
 * A disk that is an LVM logical volume `/dev/<vg>/<uuid>_<disk>` (nova's
 * `Lvm`, images type `lvm`): the cached base written into a new volume of
 * `max(size, base size)` bytes and its file system grown; a generated disk
 * (ephemeral, swap) written straight into a new volume. A volume whose
 * writing fails is removed. Not preallocated (the volume is allocated
 * already, or sparse on purpose); the libvirt source is the block device,
 * opened with `io="native"` unless the volume is sparse (as nova). {@link Lvm.delete}
 * wipes it per `volumeClear` and removes it.
 *
 * @example
 * ```ts
 * const backend = new Backend({ instancesPath, imagesType: 'lvm', lvm: { volumeGroup: 'nova-vg' } });
 * await backend.image({ uuid }, 'disk').cache({ fetch, filename: cacheFileName(imageId), imageId, size: 20 * 2 ** 30 });
 * ```
 */
export class Lvm extends Image {
  /** The volume group the volume is in: nova's `images_volume_group`, or the group named by the path given to {@link Backend.snapshot}. */
  readonly volumeGroup: string;
  /** The logical volume's name: `<instance uuid>_<disk name>` (underscores in the disk name doubled), or the one named by the path. */
  readonly logicalVolume: string;
  /** nova's `sparse_logical_volumes`. */
  readonly sparse: boolean;
  /** nova's `volume_clear` and `volume_clear_size`, applied by {@link Lvm.delete}. */
  readonly clear: ClearVolumeOptions;
  readonly #driver: LvmDriver;

  constructor(context: BackendContext, location: ImageLocation) {
    const settings = resolveLvmOptions(context.lvm);
    const { volumeGroup, logicalVolume } =
      'path' in location
        ? parseVolumePath(location.path)
        : { volumeGroup: settings.volumeGroup, logicalVolume: volumeName(location.instance?.uuid, location.diskName) };
    super(context, {
      path: volumePath(volumeGroup, logicalVolume),
      sourceType: 'block',
      driverFormat: 'raw',
      isBlockDev: true,
      preallocate: false,
      usesDiskInfo: false,
      ...(settings.sparse ? {} : { driverIo: 'native' as const }),
    });
    this.volumeGroup = volumeGroup;
    this.logicalVolume = logicalVolume;
    this.sparse = settings.sparse;
    this.clear = { volumeClear: settings.volumeClear, volumeClearSizeMiB: settings.volumeClearSizeMiB };
    this.#driver = context.lvmDriver();
  }

  /**
   * Whether the logical volume exists (in lvm2's metadata; without
   * device-mapper it has no device node).
   *
   * @example
   * ```ts
   * await disk.exists();
   * ```
   */
  override async exists(): Promise<boolean> {
    try {
      await this.#driver.volumeInfo(this.path);
      return true;
    } catch (error) {
      if (error instanceof LvmNotFoundError || error instanceof DiskNotFoundError) return false;
      throw error;
    }
  }

  /**
   * nova's `Lvm.create_image`: a generated disk (`ephemeralSize` given, with
   * a size) gets a new volume of `size` that the fetch writes in place;
   * otherwise the base is fetched once, safety-checked, and written into a
   * new volume (`FLAVOR_DISK_TOO_SMALL` before anything is created). Either
   * way a failure removes the volume.
   *
   * @example
   * ```ts
   * await disk.createImage((target) => fetchBase(target), base, 20 * 2 ** 30, { imageId });
   * ```
   */
  async createImage(prepare: PrepareTemplate, base: string, size: number | undefined, options: CreateImageOptions = {}): Promise<void> {
    if (options.ephemeralSize !== undefined && size) {
      await provisionGenerated({
        driver: this.#driver,
        volumeGroup: this.volumeGroup,
        logicalVolume: this.logicalVolume,
        size,
        sparse: this.sparse,
        write: (path) => prepare(path),
      });
      return;
    }
    await prepare(base);
    const info = options.safe ? await this.context.tools.inspect(base) : await this.checkBaseSafety(base);
    await this.underBaseLock(
      base,
      () =>
        provisionFromBase({
          driver: this.#driver,
          volumeGroup: this.volumeGroup,
          logicalVolume: this.logicalVolume,
          size: size ?? 0,
          sparse: this.sparse,
          base: { path: base, format: info.format },
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      options.signal,
    );
  }

  /**
   * Does nothing, as nova's: the volume was made at its size.
   *
   * @example
   * ```ts
   * await disk.resizeImage(size); // no-op
   * ```
   */
  async resizeImage(_size: number): Promise<void> {}

  /**
   * Deletes the disk as nova's `_cleanup_lvm` does: wipes the volume per
   * `volumeClear` (`none`, `zero`, `shred`; the first `volumeClearSizeMiB`
   * MiB, 0 = all) and removes it. A volume already gone is not an error.
   *
   * @example
   * ```ts
   * await (backend.image({ uuid }, 'disk') as Lvm).delete();
   * ```
   */
  async delete(): Promise<void> {
    if (!(await this.exists())) return;
    await deleteVolumes(this.#driver, [this.path], this.clear);
  }

  /** Always raw. */
  protected override async detectDriverFormat(): Promise<DiskFormat> {
    return 'raw';
  }
}
