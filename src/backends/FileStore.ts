import { rm } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';

import type { DiskFormat } from '../diskinfo/formats.js';
import type { DiskInfo } from '../diskinfo/DiskInfo.js';
import { ImageIoError, ImageUnsafeError, invalidArgument } from '../errors.js';
import { messageOf, systemErrorDetails } from '../fsutil/errno.js';
import type { ImageInfo } from '../image/inspect.js';
import type { DiskAuth, DiskIoMode, DiskSource } from '../libvirt/LibvirtDiskConfig.js';
import type { CreateRequest, CreateResult, DiskStore, ExtractOptions } from './DiskStore.js';
import { fileDiskPath, pathExists } from './files.js';
import type { DiskLocation, StoreContext } from './types.js';

/**
 * What the two file stores ({@link FlatStore}, {@link Qcow2Store}) share: a
 * disk file in the instance folder whose format is remembered in the
 * instance's disk.info, preallocated with `preallocateImages: 'space'`.
 *
 * @example
 * ```ts
 * const store = backend.image({ uuid }, 'disk', 'qcow2').store; // a FileStore
 * console.log(store.path, store.diskInfo?.path);
 * ```
 */
export abstract class FileStore implements DiskStore {
  /** `raw` or `qcow2`. */
  abstract readonly kind: string;
  /** The disk file. */
  readonly path: string;
  /** Always `file`. */
  readonly sourceType = 'file' as const;
  /** The format the disk is made in. */
  abstract readonly driverFormat: DiskFormat;
  /** `preallocateImages: 'space'` is set. */
  readonly preallocate: boolean;
  /** `native` when preallocating (nova), else unset. */
  readonly driverIo: DiskIoMode | undefined;
  /** The instance folder's disk.info. */
  readonly diskInfo: DiskInfo;
  /** False: a local file. */
  readonly sharedBlockStorage = false;
  /** True. */
  readonly fileInInstancePath = true;
  /** True: nova keeps (and re-fetches) the base of a file disk. */
  readonly keepsBase = true;
  /** The backend's context: cache, locks, qemu-img runner, tools. */
  protected readonly context: StoreContext;

  protected constructor(context: StoreContext, location: DiskLocation) {
    this.context = context;
    this.path = fileDiskPath(context.instancesPath, location);
    this.preallocate = context.preallocateImages === 'space';
    this.driverIo = this.preallocate ? 'native' : undefined;
    this.diskInfo = context.diskInfo(dirname(this.path));
  }

  /**
   * Whether the disk file exists (a temporary file of a killed creation does not count).
   *
   * @example
   * ```ts
   * await store.exists();
   * ```
   */
  async exists(): Promise<boolean> {
    return pathExists(this.path);
  }

  /**
   * The disk's virtual size from its header.
   *
   * @example
   * ```ts
   * const bytes = await store.size();
   * ```
   */
  async size(): Promise<number> {
    return (await this.context.tools.inspect(this.path)).virtualSize;
  }

  abstract generatesInPlace(options: { imageId?: string | undefined; ephemeralSize?: number | undefined; size?: number | undefined }): boolean;
  abstract create(request: CreateRequest): Promise<CreateResult>;
  abstract grow(size: number): Promise<boolean>;
  abstract detectFormat(): Promise<DiskFormat>;

  /**
   * The recorded format of the disk (disk.info), detected and recorded when
   * there is none yet.
   *
   * @example
   * ```ts
   * const format = await store.resolveFormat();
   * ```
   */
  resolveFormat(): Promise<DiskFormat> {
    return this.diskInfo.resolveFormat(this.path, () => this.detectFormat());
  }

  /**
   * Removes the disk file and its disk.info entry; nothing else in the
   * instance folder is touched. A disk already gone is not an error.
   *
   * @example
   * ```ts
   * await store.remove();
   * ```
   */
  async remove(): Promise<void> {
    try {
      await rm(this.path, { force: true });
    } catch (error) {
      throw new ImageIoError(`cannot remove ${this.path}: ${messageOf(error)}`, systemErrorDetails(error, 'remove', this.path));
    }
    await this.diskInfo.removeFormat(this.path);
  }

  /**
   * Converts the disk to `target` with qemu-img, from its recorded format
   * (nova's `snapshot_extract`; `iso` is written as raw). The disk is
   * inspected first and refused when it would make qemu-img open a file the
   * library did not put there.
   *
   * @example
   * ```ts
   * await store.extract('/var/lib/nova/instances/snapshots/tmp/snap', 'qcow2', { compress: true });
   * ```
   */
  async extract(target: string, format: string, options: ExtractOptions = {}): Promise<void> {
    const dstFormat = targetFormat(format, options.compress);
    const srcFormat = await this.resolveFormat();
    // A raw disk is opened as raw: its bytes are the guest's and never followed.
    if (srcFormat !== 'raw') this.checkOwnHeader(await this.context.tools.inspect(this.path));
    await this.context.qemu.convert(this.path, target, {
      srcFormat,
      dstFormat,
      trusted: true,
      ...(options.compress ? { compress: true } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }

  /**
   * Refuses a disk header that points qemu-img at other files: an external
   * data file always, a backing file unless it is a base in this backend's
   * cache folder (a qcow2 overlay's own base).
   */
  protected checkOwnHeader(info: ImageInfo): void {
    const reasons: string[] = [];
    if (info.dataFile !== undefined) reasons.push(`data file: '${info.dataFile}'`);
    if (info.backingFile !== undefined) {
      const backing = isAbsolute(info.backingFile) ? info.backingFile : resolve(dirname(this.path), info.backingFile);
      if (!this.allowsBacking() || dirname(backing) !== this.context.cache.baseDir) reasons.push(`backing file: '${info.backingFile}'`);
    }
    for (const reason of info.safety.reasons) if (!/backing/.test(reason) && !reasons.includes(reason)) reasons.push(reason);
    if (reasons.length > 0) {
      throw new ImageUnsafeError(`disk ${this.path} failed the safety check: ${reasons.join('; ')}`, {
        reasons,
        operation: 'extract',
        path: this.path,
      });
    }
  }

  /** Whether this store's disks legitimately have a backing file (qcow2 overlays). */
  protected allowsBacking(): boolean {
    return false;
  }

  /**
   * A file disk's libvirt source.
   *
   * @example
   * ```ts
   * await store.source(); // { type: 'file', path }
   * ```
   */
  async source(): Promise<DiskSource> {
    return { type: 'file', path: this.path };
  }

  /**
   * None: a local file needs no credentials.
   *
   * @example
   * ```ts
   * await store.auth(); // undefined
   * ```
   */
  async auth(): Promise<DiskAuth | undefined> {
    return undefined;
  }
}

/** The qemu-img output format for a snapshot in `format` (nova writes `iso` snapshots as raw). */
export function targetFormat(format: string, compress: boolean | undefined): string {
  if (typeof format !== 'string' || format === '') throw invalidArgument('an image format', 'format', format);
  const out = format === 'iso' ? 'raw' : format;
  if (compress && out !== 'qcow2') throw invalidArgument("a qcow2 target (compress needs one)", 'format', format);
  return out;
}
