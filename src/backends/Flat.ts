import { truncate } from 'node:fs/promises';

import { isDiskFormat, type DiskFormat } from '../diskinfo/formats.js';
import { DiskNotFoundError, ImageIoError } from '../errors.js';
import { messageOf, systemErrorDetails } from '../fsutil/errno.js';
import { Image, pathExists, removeOnError } from './Image.js';
import type { BackendContext, CreateImageOptions, ImageLocation, PrepareTemplate } from './types.js';

/**
 * A disk that is a plain copy of its base image, with no backing file (nova's
 * `Flat`, images type `raw`/`flat`): raw normally, or whatever the base was.
 * The base is copied with reflink where the filesystem can, else sparsely,
 * then grown to the size asked for. A disk without an image id (ephemeral,
 * swap) is generated in place by the fetch function.
 *
 * @example
 * ```ts
 * const disk = new Backend({ instancesPath, imagesType: 'raw' }).image({ uuid }, 'disk');
 * await disk.cache({ fetch, filename: cacheFileName(imageId), imageId, size: 10 * 2 ** 30 });
 * ```
 */
export class Flat extends Image {
  constructor(context: BackendContext, location: ImageLocation) {
    super(context, {
      path: Image.fileDiskPath(context.instancesPath, location),
      sourceType: 'file',
      driverFormat: 'raw',
      isBlockDev: false,
      preallocate: true,
      usesDiskInfo: true,
    });
  }

  /**
   * nova's `Flat.create_image`: a generated disk is written in place (or, if
   * it exists, grown); otherwise the base is fetched once, safety-checked,
   * size-checked and copied to the disk under the base's lock, then grown.
   * The disk's format is recorded in disk.info before anything can run in it.
   *
   * @example
   * ```ts
   * await disk.createImage((target) => fetchBase(target), base, 10 * 2 ** 30, { imageId });
   * ```
   */
  async createImage(prepare: PrepareTemplate, base: string, size: number | undefined, options: CreateImageOptions = {}): Promise<void> {
    if (options.imageId === undefined) {
      if (!(await this.exists())) await prepare(this.path);
      else if (size) await this.resizeImage(size);
    } else {
      // Fetches once; a base already there just has its mtime refreshed.
      await prepare(base);
      if (!options.safe) await this.checkBaseSafety(base);
      await this.verifyBaseSize(base, size);
      if (!(await this.exists())) {
        await this.ensureDiskFolder();
        await this.underBaseLock(
          base,
          () =>
            removeOnError(this.path, async () => {
              await this.context.tools.copyRawData(base, this.path, options.signal ? { signal: options.signal } : {});
              if (size) await this.resizeImage(size);
            }),
          options.signal,
        );
      }
    }
    if (await this.exists()) await this.resolveDriverFormat();
  }

  /**
   * Grows the disk to `size` bytes: a raw file by extending it (sparse), any
   * other format with `qemu-img resize`. Never shrinks.
   *
   * @example
   * ```ts
   * await disk.resizeImage(20 * 2 ** 30);
   * ```
   */
  async resizeImage(size: number): Promise<void> {
    const format = await this.resolveDriverFormat();
    const current = format === 'raw' ? (await this.context.tools.inspect(this.path)).fileSize : await this.getDiskSize(this.path);
    if (size <= current) return;
    if (format !== 'raw') {
      await this.context.qemu.resize(this.path, size, { format });
      return;
    }
    try {
      await truncate(this.path, size);
    } catch (error) {
      throw new ImageIoError(`cannot extend ${this.path} to ${size} bytes: ${messageOf(error)}`, systemErrorDetails(error, 'resizeImage', this.path));
    }
  }

  /**
   * The header's format (nova's `Flat._get_driver_format`), `raw` when the
   * header cannot be read; also `raw` for a header that would make qemu open
   * other files (a backing or data file), which a Flat disk never has.
   */
  protected override async detectDriverFormat(): Promise<DiskFormat> {
    try {
      const info = await this.context.tools.inspect(this.path);
      if (info.format === 'raw' || !isDiskFormat(info.format) || !info.safety.safe) return 'raw';
      return info.format;
    } catch (error) {
      if (error instanceof DiskNotFoundError || !(await pathExists(this.path))) throw error;
      return 'raw';
    }
  }

  /**
   * True: the disk is a file in the instance folder.
   *
   * @example
   * ```ts
   * disk.isFileInInstancePath(); // true
   * ```
   */
  override isFileInInstancePath(): boolean {
    return true;
  }
}
