import { basename, dirname } from 'node:path';

import type { DiskFormat } from '../diskinfo/formats.js';
import { CacheError, invalidArgument } from '../errors.js';
import type { CachedBase, CreateRequest, CreateResult } from './DiskStore.js';
import { FileStore } from './FileStore.js';
import { createFileSafely, ensureFolder, pathExists } from './files.js';
import type { DiskLocation, StoreContext } from './types.js';

const GiB = 2 ** 30;

/**
 * A qcow2 overlay whose backing file is the cached base image (nova's
 * `Qcow2`, images type `qcow2`, and `default` with `useCowImages`). The
 * overlay is written natively (no qemu-img fork) under a temporary name and
 * linked into place; generated disks (ephemeral, swap) are generated into the
 * cache first and overlaid like any base, as nova does.
 *
 * @example
 * ```ts
 * const disk = new Backend({ instancesPath }).image({ uuid }, 'disk', 'qcow2');
 * const report = await disk.cache({ fetch, filename: cacheFileName(imageId), imageId, size: 20 * 2 ** 30 });
 * ```
 */
export class Qcow2Store extends FileStore {
  /** `qcow2`. */
  readonly kind = 'qcow2';
  /** `qcow2`. */
  readonly driverFormat: DiskFormat = 'qcow2';

  constructor(context: StoreContext, location: DiskLocation) {
    super(context, location);
  }

  /**
   * False: even a generated disk is generated into the cache and overlaid (nova's Qcow2).
   *
   * @example
   * ```ts
   * store.generatesInPlace({}); // false
   * ```
   */
  generatesInPlace(): boolean {
    return false;
  }

  /**
   * Writes the overlay on `request.base`, its virtual size `request.size`
   * (or the base's).
   *
   * @example
   * ```ts
   * await store.create({ kind: 'base', base: { path, format: 'raw', virtualSize }, size: 20 * 2 ** 30 });
   * ```
   */
  async create(request: CreateRequest): Promise<CreateResult> {
    if (request.kind !== 'base') throw invalidArgument('a base (qcow2 disks are overlays on a cached base)', 'request.kind', request.kind);
    const { base, size } = request;
    await ensureFolder(dirname(this.path));
    let virtualSize = Math.max(size, base.virtualSize);
    const created = await createFileSafely(
      this.path,
      async (target) => {
        const overlay = await this.context.tools.createQcow2Overlay(target, {
          backingFile: base.path,
          backingFormat: base.format,
          ...(size ? { size } : {}),
          ...(this.context.qcow2?.extendedL2 ? { extendedL2: true } : {}),
        });
        virtualSize = overlay.size;
      },
      {
        // Not flushed: a torn overlay (a power cut) fails qemu's header checks loudly, never reads wrong
        // data, and flushing each one would cost more than the overlay itself.
        durable: false,
        // The overlay is written outside the base's lock (it only names the base); only giving it the
        // disk's name, once the base is known to be still there, happens under it.
        place: (link) =>
          request.holdBase(async () => {
            if (!(await pathExists(base.path))) {
              throw new CacheError(`the base ${base.path} was removed while the disk ${this.path} was being made`, {
                operation: 'create',
                path: base.path,
              });
            }
            return link();
          }),
      },
    );
    return { created, format: 'qcow2', virtualSize };
  }

  /**
   * Grows the overlay's virtual size with `qemu-img resize -f qcow2`; a disk
   * already that large is left alone.
   *
   * @example
   * ```ts
   * await store.grow(40 * 2 ** 30);
   * ```
   */
  async grow(size: number): Promise<boolean> {
    if (size <= (await this.size())) return false;
    await this.context.qemu.resize(this.path, size, { format: 'qcow2' });
    return true;
  }

  /**
   * Always qcow2: the disk is never probed (nova's Qcow2 records its fixed format).
   *
   * @example
   * ```ts
   * await store.detectFormat(); // 'qcow2'
   * ```
   */
  async detectFormat(): Promise<DiskFormat> {
    return 'qcow2';
  }

  /**
   * nova's `Qcow2.create_image` on an existing disk: when its backing file
   * is a legacy `<base>_<GiB>` copy an older nova made and it is gone, the
   * copy is made again from the base and grown to its size, so the disk
   * opens.
   *
   * @example
   * ```ts
   * await store.adopt({ path: base, format: 'raw', virtualSize });
   * ```
   */
  async adopt(base: CachedBase, signal?: AbortSignal): Promise<void> {
    const legacy = legacyBacking((await this.context.tools.inspect(this.path)).backingFile);
    if (!legacy) return;
    const legacyBase = `${base.path}_${legacy.suffix}`;
    await this.context.locks.synchronized(
      basename(legacyBase),
      async () => {
        if (await pathExists(legacyBase)) return;
        await createFileSafely(legacyBase, async (target) => {
          await this.context.tools.copyRawData(base.path, target, signal ? { signal } : {});
          if (legacy.size > base.virtualSize) await this.context.qemu.resize(target, legacy.size, { format: base.format });
        });
      },
      signal ? { signal } : {},
    );
  }

  protected override allowsBacking(): boolean {
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
