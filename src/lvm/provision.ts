/**
 * The data path of the LVM image backend: an instance disk made from a base
 * image (create the volume, write the base into it, grow its file system), a
 * generated disk written straight into a new volume, and wiping on delete.
 * Whatever fails after the volume was created removes it again and keeps the
 * original error.
 */
import { blockDeviceSize, copyRawData } from '../blockdev/index.js';
import { invalidArgument } from '../errors.js';
import { verifyBaseSize } from '../verify.js';
import { QemuImg, type ConvertOptions } from '../qemu/QemuImg.js';
import { growFilesystem, type GrowFilesystemResult } from '../blockdev/grow-filesystem.js';
import type { ClearVolumeOptions, CreatedVolume, LvmDriver } from './LvmDriver.js';

/** A cached base image and its known format, as the provisioning functions take it. */
export interface BaseImage {
  /** The cached base image file. */
  path: string;
  /** Its format as verified by the cache (`raw`, `qcow2`...); never probed here. */
  format: string;
  /** Its virtual size in bytes when the caller already inspected it (then it is not looked up again). */
  virtualSize?: number;
}

/** What the LVM data path reads from `qemu-img info`. */
export interface LvmBaseInfo {
  /** The image's virtual size in bytes. */
  virtualSize: number;
}

/** The qemu-img calls the LVM data path makes ({@link QemuImg} has them). */
export interface LvmQemuRunner {
  /** `qemu-img convert` (a non-raw base onto the volume). */
  convert(src: string, dst: string, options: ConvertOptions & { trusted?: boolean }): Promise<void>;
  /** `qemu-img info` (a non-raw base's virtual size when not given). */
  info?(path: string, options: { format: string }): Promise<LvmBaseInfo>;
}

/** Options of {@link writeBase}. */
export interface WriteBaseOptions {
  /** The qemu-img runner for non-raw bases; default `new QemuImg()`. */
  qemuImg?: LvmQemuRunner;
  /** (bytes done, total), increasing. */
  onProgress?: (done: number, total: number) => void;
  /** Aborts the copy or the qemu-img convert (rejects with `ABORTED`). */
  signal?: AbortSignal;
}

/** What {@link provisionFromBase} makes the disk from and where. */
export interface ProvisionOptions extends WriteBaseOptions {
  /** The lvm2 driver that creates (and, on failure, removes) the volume. */
  driver: LvmDriver;
  /** The volume group to create the volume in (nova's `images_volume_group`). */
  volumeGroup: string;
  /** The new volume's name, e.g. `volumeName(uuid, 'disk')`. */
  logicalVolume: string;
  /** The disk size asked for (the flavor's); 0 means the base's size. */
  size: number;
  /** Create a sparse volume (nova's `sparse_logical_volumes`); default false. */
  sparse?: boolean;
  /** The base image written into the volume. */
  base: BaseImage;
}

/** What {@link provisionFromBase} made. */
export interface ProvisionResult {
  /** The new logical volume, `max(size, base size)` rounded up to whole extents. */
  volume: CreatedVolume;
  /** The base's virtual size in bytes. */
  baseSize: number;
  /** Set when the disk is larger than the base: what growing its file system did. */
  filesystem?: GrowFilesystemResult;
}

/**
 * The virtual size of a base image: its byte size when raw, qemu-img's
 * virtual size otherwise.
 *
 * @example
 * ```ts
 * const bytes = await baseImageSize({ path: '/var/lib/nova/instances/_base/abc', format: 'qcow2' });
 * ```
 */
export async function baseImageSize(base: BaseImage, qemuImg?: LvmQemuRunner): Promise<number> {
  if (base.virtualSize !== undefined) return base.virtualSize;
  if (base.format === 'raw') return blockDeviceSize(base.path);
  if (qemuImg?.info) return (await qemuImg.info(base.path, { format: base.format })).virtualSize;
  return (await new QemuImg().info(base.path, { format: base.format })).virtualSize;
}

/**
 * Writes a base image onto an existing block device (or file): the native
 * sparse copy for raw bases (holes become zeros on the device), `qemu-img
 * convert -O raw` for other formats.
 *
 * @example
 * ```ts
 * await writeBase({ path: base, format: 'qcow2' }, '/dev/nova-vg/uuid_disk', { signal });
 * ```
 */
export async function writeBase(base: BaseImage, target: string, options: WriteBaseOptions = {}): Promise<void> {
  const { onProgress, signal } = options;
  if (base.format === 'raw') {
    await copyRawData(base.path, target, { dstMode: 'existing', onProgress, signal });
    return;
  }
  const qemuImg = options.qemuImg ?? new QemuImg();
  const total = onProgress ? await baseImageSize(base, qemuImg) : 0;
  await qemuImg.convert(base.path, target, {
    srcFormat: base.format,
    dstFormat: 'raw',
    // The base passed the safety check before it was handed here.
    trusted: true,
    signal,
    onProgress: onProgress ? (percent) => onProgress(Math.floor((total * percent) / 100), total) : undefined,
  });
}

/**
 * Makes an instance disk from a base image, as nova's `Lvm.create_image`:
 * the volume is `max(size, base size)` (rounded up to extents), the base is
 * written into it, and when the disk is larger than the base its ext file
 * system is grown (`e2fsck -fp`, `resize2fs`). Rejects with
 * `FLAVOR_DISK_TOO_SMALL` (nothing created) when `size` is non-zero and
 * smaller than the base; on any later failure the volume is removed and the
 * failure rethrown.
 *
 * @example
 * ```ts
 * const { volume, filesystem } = await provisionFromBase({
 *   driver, volumeGroup: 'nova-vg', logicalVolume: volumeName(uuid, 'disk'), size: 20 * 2 ** 30,
 *   base: { path: '/var/lib/nova/instances/_base/abc', format: 'raw' },
 * });
 * ```
 */
export async function provisionFromBase(options: ProvisionOptions): Promise<ProvisionResult> {
  const { driver, volumeGroup, logicalVolume, size, base } = options;
  if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument('a non-negative integer', 'size', size);
  if (typeof base?.path !== 'string' || typeof base.format !== 'string') throw invalidArgument('{ path, format }', 'base', base);
  const baseSize = await baseImageSize(base, options.qemuImg);
  verifyBaseSize(baseSize, size, { path: base.path });
  const volume = await driver.createVolume(volumeGroup, logicalVolume, Math.max(size, baseSize), { sparse: options.sparse });
  return removeOnError(driver, volume, async () => {
    await writeBase(base, volume.path, options);
    const result: ProvisionResult = { volume, baseSize };
    if (size > baseSize) result.filesystem = await growFilesystem(volume.path);
    return result;
  });
}

/**
 * Makes a generated disk (ephemeral, swap) of `size` bytes and lets `write`
 * fill it in place, as nova does for LVM instead of going through the
 * image cache; the volume is removed if `write` fails.
 *
 * @example
 * ```ts
 * await provisionGenerated({ driver, volumeGroup: 'nova-vg', logicalVolume: volumeName(uuid, 'disk.swap'),
 *   size: 2 ** 30, write: (path) => mkswap(path) });
 * ```
 */
export async function provisionGenerated(options: {
  driver: LvmDriver;
  volumeGroup: string;
  logicalVolume: string;
  size: number;
  sparse?: boolean;
  write: (path: string) => Promise<void>;
}): Promise<CreatedVolume> {
  const { driver, volumeGroup, logicalVolume, size, write } = options;
  if (typeof write !== 'function') throw invalidArgument('a function', 'write', write);
  const volume = await driver.createVolume(volumeGroup, logicalVolume, size, { sparse: options.sparse });
  return removeOnError(driver, volume, async () => {
    await write(volume.path);
    return volume;
  });
}

/**
 * Deletes instance disks: each is wiped per `volumeClear` (a missing device
 * is skipped) and removed; every volume is tried, then one
 * `VOLUMES_NOT_REMOVED` error lists the failures.
 *
 * @example
 * ```ts
 * await deleteVolumes(driver, ['/dev/nova-vg/uuid_disk'], { volumeClear: 'zero', volumeClearSizeMiB: 0 });
 * ```
 */
export function deleteVolumes(driver: LvmDriver, paths: readonly string[], clear: ClearVolumeOptions): Promise<void> {
  return driver.removeVolumes(paths, { clear });
}

async function removeOnError<T>(driver: LvmDriver, volume: CreatedVolume, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    // The original failure is what the caller needs; a failed removal leaves
    // a volume an operator can see with lvs, and the error says which.
    await driver.removeVolumes([volume.path]).catch((cleanup: unknown) => {
      if (error instanceof Error) Object.defineProperty(error, 'cleanupError', { value: cleanup, enumerable: false });
    });
    throw error;
  }
}
