import { realpath } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

import type { DiskFormat } from '../diskinfo/formats.js';
import { Image, pathExists, removeOnError } from './Image.js';
import type { BackendContext, CreateImageOptions, ImageLocation, PrepareTemplate } from './types.js';

const GiB = 2 ** 30;

/**
 * A qcow2 overlay whose backing file is the cached base image (nova's
 * `Qcow2`, images type `qcow2`, and `default` with `useCowImages`). The
 * overlay is written natively (no qemu-img fork); the base is safety-checked
 * first, so a downloaded base with a backing file or an external data file is
 * refused before anything is created.
 *
 * @example
 * ```ts
 * const disk = new Backend({ instancesPath }).image({ uuid }, 'disk');
 * await disk.cache({ fetch, filename: cacheFileName(imageId), imageId, size: 20 * 2 ** 30 });
 * ```
 */
export class Qcow2 extends Image {
  constructor(context: BackendContext, location: ImageLocation) {
    super(context, {
      path: Image.fileDiskPath(context.instancesPath, location),
      sourceType: 'file',
      driverFormat: 'qcow2',
      isBlockDev: false,
      preallocate: true,
      usesDiskInfo: true,
    });
  }

  /**
   * nova's `Qcow2.create_image`: fetch the base once, refuse an unsafe base
   * (`IMAGE_UNSAFE`) or one larger than `size` (`FLAVOR_DISK_TOO_SMALL`);
   * for an existing disk whose backing file is a legacy `<base>_<GiB>` copy,
   * recreate that copy grown to its size; for a missing disk, write the
   * overlay (its virtual size `size`, or the base's) under the base's lock. An
   * existing disk is otherwise left as it is.
   *
   * @example
   * ```ts
   * await disk.createImage((target) => fetchBase(target), base, 20 * 2 ** 30, { imageId });
   * ```
   */
  async createImage(prepare: PrepareTemplate, base: string, size: number | undefined, options: CreateImageOptions = {}): Promise<void> {
    await prepare(base);
    const baseInfo = options.safe ? await this.context.tools.inspect(base) : await this.checkBaseSafety(base);
    await this.verifyBaseSize(base, size, baseInfo.virtualSize);

    if (await this.exists()) {
      const legacy = legacyBacking((await this.context.tools.inspect(this.path)).backingFile);
      if (legacy) {
        const legacyBase = `${base}_${legacy.suffix}`;
        await this.underBaseLock(legacyBase, async () => {
          if (await pathExists(legacyBase)) return;
          await removeOnError(legacyBase, async () => {
            await this.context.tools.copyRawData(base, legacyBase, options.signal ? { signal: options.signal } : {});
            if (legacy.size > baseInfo.virtualSize) await this.context.qemu.resize(legacyBase, legacy.size, { format: baseInfo.format });
          });
        });
      }
    } else {
      await this.ensureDiskFolder();
      await this.underBaseLock(
        base,
        async () => {
          if (await this.exists()) return;
          await this.context.tools.createQcow2Overlay(this.path, {
            backingFile: base,
            backingFormat: baseInfo.format,
            ...(size ? { size } : {}),
          });
        },
        options.signal,
      );
    }
    await this.resolveDriverFormat();
  }

  /**
   * Grows the overlay's virtual size with `qemu-img resize -f qcow2`; a disk
   * already that large is left alone.
   *
   * @example
   * ```ts
   * await disk.resizeImage(40 * 2 ** 30);
   * ```
   */
  async resizeImage(size: number): Promise<void> {
    if (size <= (await this.getDiskSize(this.path))) return;
    await this.context.qemu.resize(this.path, size, { format: 'qcow2' });
  }

  /**
   * nova's `snapshot_extract` for a qcow2 disk: the overlay and its base
   * converted to a standalone image. qemu-img is handed the base explicitly
   * (it opens that file, never what the overlay's header names), and only a
   * base that really is in the image cache: an overlay whose header points
   * anywhere else is refused with `IMAGE_UNSAFE` by the qemu runner.
   *
   * @example
   * ```ts
   * await disk.snapshotExtract('/var/lib/nova/instances/snapshots/tmpabc/snap', 'qcow2');
   * ```
   */
  override async snapshotExtract(target: string, outFormat: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const info = await this.context.tools.inspect(this.path);
    let backing: { path: string; format: string } | undefined;
    if (info.fullBackingFile !== undefined && info.backingFormat !== undefined) {
      const real = await realpath(info.fullBackingFile).catch(() => undefined);
      const cacheDir = await realpath(this.context.cache.baseDir).catch(() => this.context.cache.baseDir);
      if (real !== undefined && dirname(real) === cacheDir) backing = { path: real, format: info.backingFormat };
    }
    await this.context.qemu.convert(this.path, target, {
      srcFormat: 'qcow2',
      dstFormat: outFormat,
      ...(backing ? { backing } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /** Always qcow2: the disk is never probed (nova's Qcow2 records its fixed format). */
  protected override async detectDriverFormat(): Promise<DiskFormat> {
    return 'qcow2';
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

/** A backing file named `<anything>_<digits>`: nova's legacy resized base, `<digits>` GiB. */
function legacyBacking(backingFile: string | undefined): { suffix: string; size: number } | undefined {
  if (!backingFile) return undefined;
  const name = basename(backingFile);
  const at = name.lastIndexOf('_');
  if (at < 0) return undefined;
  const suffix = name.slice(at + 1);
  if (!/^[0-9]+$/.test(suffix)) return undefined;
  return { suffix: String(Number(suffix)), size: Number(suffix) * GiB };
}
