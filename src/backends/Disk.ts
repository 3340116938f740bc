import { invalidArgument } from '../errors.js';
import type { DiskFormat } from '../diskinfo/formats.js';
import { effectiveDriverIo } from '../libvirt/diskConflicts.js';
import { LibvirtDiskConfig } from '../libvirt/LibvirtDiskConfig.js';
import { verifyBaseSize } from '../verify.js';
import type { DiskStore, ExtractOptions, RemoveOptions } from './DiskStore.js';
import { formatOf, provision } from './provision.js';
import type { CacheOptions, LibvirtInfoOptions, ProvisionReport, StoreContext } from './types.js';


/**
 * One guest disk: nova's `imagebackend.Image` vocabulary (`cache`,
 * `libvirtInfo`, `snapshotExtract`, `resolveDriverFormat`,
 * `verifyBaseSize`, `exists`, `remove`) over a {@link DiskStore}. The store
 * is typed by the images type it was asked for, so `backend.image(instance,
 * 'disk', 'rbd').store` shows the rbd store's clone and snapshot methods.
 * Get disks from {@link Backend.image} or {@link Backend.disk}.
 *
 * @example
 * ```ts
 * const disk = backend.image({ uuid }, 'disk', 'rbd');
 * const report = await disk.cache({ fetch, filename: cacheFileName(imageId), imageId, size, clone: { context } });
 * if (report.cloned) await disk.store.flatten();
 * const xml = (await disk.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', cacheMode: 'none' })).toXml();
 * ```
 */
export class Disk<S extends DiskStore = DiskStore> {
  /** The store the disk lives in, with its own capabilities (rbd: clone, snapshots...). */
  readonly store: S;
  /** libvirt's name of the disk (the store's path): a file, a device, or `rbd:pool/image…`. */
  readonly path: string;
  readonly #context: StoreContext;

  constructor(context: StoreContext, store: S) {
    this.#context = context;
    this.store = store;
    this.path = store.path;
  }

  /**
   * Whether the disk exists.
   *
   * @example
   * ```ts
   * if (!(await disk.exists())) await disk.cache({ fetch, filename, size, imageId });
   * ```
   */
  exists(): Promise<boolean> {
    return this.store.exists();
  }

  /**
   * Makes sure the disk exists (nova's `Image.cache`): the base `filename`
   * fetched into the cache at most once across processes sharing the
   * instances folder, inspected once, checked (safety, size), and the disk
   * made from it, grown to `size`, preallocated with `preallocateImages:
   * 'space'`, its format recorded; or, with `clone`, a clone of the image
   * service's copy where the store can. With no `fetch` the base comes from
   * the backend's `imageService` (the image pipeline: `fetchToRaw`, and on
   * rbd a base held in the pool that disks are cloned from). Resolves to
   * what was done.
   *
   * @example
   * ```ts
   * // The backend's image service (e.g. a GlanceImageService) provides the base:
   * const report = await disk.cache({ imageId, size: 20 * 2 ** 30, context });
   * // Or a fetch of your own:
   * await disk.cache({
   *   filename: cacheFileName(imageId), imageId, size: 20 * 2 ** 30,
   *   fetch: async ({ target, signal }) => download(imageId, target, { signal }),
   * });
   * console.log(report.created, report.fetched, report.format, report.virtualSize, report.timings.total);
   * ```
   */
  cache(options: CacheOptions): Promise<ProvisionReport> {
    return provision(this.#context, this.store, options);
  }

  /**
   * Grows the disk to `size` bytes; never shrinks (nova's `resize_image`).
   * Resolves whether it grew.
   *
   * @example
   * ```ts
   * await disk.grow(40 * 2 ** 30);
   * ```
   */
  grow(size: number): Promise<boolean> {
    if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument('a byte count', 'size', size);
    return this.store.grow(size);
  }

  /**
   * The disk's virtual size in bytes (nova's `get_disk_size` of the disk).
   *
   * @example
   * ```ts
   * const bytes = await disk.size();
   * ```
   */
  size(): Promise<number> {
    return this.store.size();
  }

  /**
   * Removes the disk: a file and its disk.info entry, an LVM volume wiped
   * per `volumeClear`, an RBD image. Only the disk itself; a disk already
   * gone is not an error.
   *
   * @example
   * ```ts
   * await disk.remove(); // lvm: { volumeClear: 'zero' } overrides the backend's setting
   * ```
   */
  remove(options: RemoveOptions = {}): Promise<void> {
    return this.store.remove(options);
  }

  /**
   * Refuses a base image larger than the disk asked for (nova's
   * `verify_base_size`): `FLAVOR_DISK_TOO_SMALL` carrying both sizes.
   * `size` undefined or 0 always passes; `baseSize` 0 means "look it up"
   * (the base's header; for rbd and lvm, the disk's own size, as nova).
   *
   * @example
   * ```ts
   * await disk.verifyBaseSize('/var/lib/nova/instances/_base/abc', 10 * 2 ** 30);
   * ```
   */
  async verifyBaseSize(base: string, size: number | undefined, baseSize = 0): Promise<void> {
    if (size === undefined) return;
    let actual = baseSize;
    if (size && !actual) actual = this.store.keepsBase ? (await this.#context.tools.inspect(base)).virtualSize : await this.store.size();
    verifyBaseSize(actual, size, { path: base });
  }

  /**
   * The format to open the disk with. File disks remember it in the
   * instance's disk.info the first time it is asked (normally when the disk
   * is made) and trust that record afterwards, so a guest that writes a
   * qcow2 header into its raw disk cannot change how the host opens it (nova
   * bug 1221190). Volumes answer with their fixed format.
   *
   * @example
   * ```ts
   * const format = await disk.resolveDriverFormat(); // 'raw' | 'qcow2' | …
   * ```
   */
  resolveDriverFormat(): Promise<DiskFormat> {
    return formatOf(this.store);
  }

  /**
   * The libvirt `<disk>` configuration of this disk (nova's `libvirt_info`):
   * source, driver `qemu` with the resolved format, the cache mode, discard
   * and io modes, the target, boot order, SCSI unit, auth, and the flavor's
   * `quota:disk_*` extra specs as `<iotune>`. `io="native"` (preallocated
   * files, dense volumes) becomes `threads` with a cache mode other than
   * `none`/`directsync`, as nova does (libvirt refuses native there). An rbd
   * disk on a cephx cluster without a configured secret is refused
   * (`RBD_AUTH_NOT_CONFIGURED`).
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
    const store = this.store;
    const auth = await store.auth();
    // nova's _set_cache_mode: io='native' only where the cache mode allows it.
    const io = effectiveDriverIo(store.driverIo, options.cacheMode);
    return LibvirtDiskConfig.fromExtraSpecs(
      {
        source: await store.source(),
        deviceType: options.deviceType ?? 'disk',
        driverName: 'qemu',
        driverFormat: await this.#libvirtFormat(),
        ...(options.cacheMode === undefined ? {} : { driverCache: options.cacheMode }),
        ...(io === undefined ? {} : { driverIo: io }),
        ...(this.#context.discardMode === undefined ? {} : { driverDiscard: this.#context.discardMode }),
        targetDev: options.diskDev,
        targetBus: options.diskBus,
        ...(options.bootOrder === undefined ? {} : { bootOrder: options.bootOrder }),
        ...(options.diskBus === 'scsi' && options.diskUnit !== undefined ? { diskUnit: options.diskUnit } : {}),
        ...(auth ? { auth } : {}),
      },
      options.extraSpecs,
    );
  }

  /** `<driver type>`: the recorded format of an existing file disk, else the format it will be made in. */
  async #libvirtFormat(): Promise<DiskFormat> {
    if (!this.store.diskInfo) return this.store.detectFormat();
    return (await this.store.exists()) ? this.resolveDriverFormat() : this.store.driverFormat;
  }

  /**
   * Copies the disk to `target` in `outFormat` (nova's `snapshot_extract`,
   * the cold snapshot; `iso` is written as raw), from its recorded format;
   * `compress` for qcow2 targets. A file disk whose header points at files
   * the library did not put there is refused (`IMAGE_UNSAFE`).
   *
   * @example
   * ```ts
   * await disk.snapshotExtract('/var/lib/nova/instances/snapshots/tmpabc/snap', 'qcow2', { compress: true });
   * ```
   */
  snapshotExtract(target: string, outFormat: string, options: ExtractOptions = {}): Promise<void> {
    if (typeof target !== 'string' || target === '') throw invalidArgument('a file path', 'target', target);
    return this.store.extract(target, outFormat, options);
  }

  /**
   * Whether the disk lives on storage every host sees (rbd: true).
   *
   * @example
   * ```ts
   * if (!disk.isSharedBlockStorage()) await copyDiskToDestination();
   * ```
   */
  isSharedBlockStorage(): boolean {
    return this.store.sharedBlockStorage;
  }

  /**
   * Whether the disk is a file in the instance folder (raw, qcow2).
   *
   * @example
   * ```ts
   * disk.isFileInInstancePath(); // true for raw and qcow2
   * ```
   */
  isFileInInstancePath(): boolean {
    return this.store.fileInInstancePath;
  }
}

