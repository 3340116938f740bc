import { stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';

import { growFilesystem } from '../blockdev/grow-filesystem.js';
import { isDiskFormat, type DiskFormat } from '../diskinfo/formats.js';
import { DiskNotFoundError, ImageIoError } from '../errors.js';
import { messageOf, systemErrorDetails } from '../fsutil/errno.js';
import type { CreateRequest, CreateResult } from './DiskStore.js';
import { FileStore } from './FileStore.js';
import { createFileSafely, ensureFolder, pathExists } from './files.js';
import type { DiskLocation, QemuRunner, StoreContext } from './types.js';

/**
 * A disk that is a plain copy of its base image, with no backing file (nova's
 * `Flat`, images type `raw`/`flat`): raw normally, or whatever the base was.
 * The base is copied (sparsely, or with reflink where the filesystem can) to
 * a temporary file, grown to the size asked for, and only then given the
 * disk's name, so a process killed mid-copy never leaves a disk the next
 * call would accept. A disk without an image id (ephemeral, swap) is
 * generated in place by the fetch function, the same way.
 *
 * @example
 * ```ts
 * const disk = new Backend({ instancesPath, imagesType: 'raw' }).image({ uuid }, 'disk', 'raw');
 * const report = await disk.cache({ fetch, filename: cacheFileName(imageId), imageId, size: 10 * 2 ** 30 });
 * ```
 */
export class FlatStore extends FileStore {
  /** `raw`. */
  readonly kind = 'raw';
  /** `raw`: the format a generated disk is made in (a copied base keeps its own). */
  readonly driverFormat: DiskFormat = 'raw';

  constructor(context: StoreContext, location: DiskLocation) {
    super(context, location);
  }

  /**
   * True when there is no image id: nova writes ephemeral and swap disks straight into the instance folder.
   *
   * @example
   * ```ts
   * store.generatesInPlace({ imageId: undefined }); // true
   * ```
   */
  generatesInPlace(options: { imageId?: string | undefined }): boolean {
    return options.imageId === undefined;
  }

  /**
   * Makes the disk: the base copied and grown, or `write`'s output, under a
   * temporary name renamed at the end.
   *
   * @example
   * ```ts
   * await store.create({ kind: 'base', base: { path, format: 'raw', virtualSize }, size: 20 * 2 ** 30 });
   * ```
   */
  async create(request: CreateRequest): Promise<CreateResult> {
    await ensureFolder(dirname(this.path));
    if (request.kind === 'generated') {
      const created = await createFileSafely(this.path, (target) => request.write(target));
      return { created, format: 'raw', virtualSize: (await stat(this.path)).size };
    }
    const { base, size } = request;
    // What the base is, the disk is (a qcow2 base makes a qcow2 file): nova's Flat.
    const format: DiskFormat = isDiskFormat(base.format) ? base.format : 'raw';
    // The copy reads the base: under its lock, as nova copies; and it is disk work, queued behind the backend's limit.
    const created = await request.holdBase((signal) =>
      this.context.diskOps.run(
        () =>
          createFileSafely(this.path, async (target) => {
            await this.context.tools.copyRawData(base.path, target, { signal });
            if (size > base.virtualSize) await growFile(this.context.qemu, target, format, size, signal);
          }),
        { signal, name: 'copy' },
      ),
    );
    return { created, format, virtualSize: Math.max(size, base.virtualSize) };
  }

  /**
   * Grows the disk to `size` bytes: a raw file by extending it (sparse), any
   * other format with `qemu-img resize`. Never shrinks. A raw disk holding a
   * whole-disk ext2/3/4 file system gets it grown too, as nova's
   * `disk.extend` does (`e2fsck -fp`, then `resize2fs` if the check passed);
   * a resize2fs that fails rejects with `FILESYSTEM_RESIZE_FAILED`.
   *
   * @example
   * ```ts
   * await store.grow(20 * 2 ** 30); // true when it grew
   * ```
   */
  async grow(size: number): Promise<boolean> {
    const format = await this.resolveFormat();
    const current = format === 'raw' ? (await this.context.tools.inspect(this.path)).fileSize : await this.size();
    if (size <= current) return false;
    await growFile(this.context.qemu, this.path, format, size);
    return true;
  }

  /**
   * The header's format (nova's `Flat._get_driver_format`); `raw` when the
   * header cannot be read, and for a header that would make qemu open other
   * files (a backing or data file), which a Flat disk never has.
   *
   * @example
   * ```ts
   * await store.detectFormat(); // 'raw'
   * ```
   */
  async detectFormat(): Promise<DiskFormat> {
    try {
      const info = await this.context.tools.inspect(this.path);
      if (info.format === 'raw' || !isDiskFormat(info.format) || !info.safety.safe) return 'raw';
      return info.format;
    } catch (error) {
      if (error instanceof DiskNotFoundError || !(await pathExists(this.path))) throw error;
      return 'raw';
    }
  }
}

/**
 * Grows a file disk: `qemu-img resize` for formats other than raw; a raw file
 * with truncate(2) (sparse), then its file system as nova master's
 * `disk.extend` does for a local raw image: only an ext2/3/4 file system
 * starting at byte 0 (nova's `e2label` test), checked with `e2fsck -fp` and
 * left alone when the check finds errors it cannot fix; a partitioned disk,
 * XFS or swap is never touched (nova grows those only through libguestfs,
 * and only for non-raw images with `resize_fs_using_block_device`).
 */
async function growFile(qemu: QemuRunner, path: string, format: DiskFormat, size: number, signal?: AbortSignal): Promise<void> {
  if (format !== 'raw') {
    await qemu.resize(path, size, { format });
    return;
  }
  try {
    await truncate(path, size);
  } catch (error) {
    throw new ImageIoError(`cannot extend ${path} to ${size} bytes: ${messageOf(error)}`, systemErrorDetails(error, 'grow', path));
  }
  // nova logs a failed resize2fs and hands out the disk; here it is an error, as for lvm, since a
  // resize2fs stopped half-way can leave the guest a damaged file system.
  await growFilesystem(path, signal ? { signal } : {});
}
