/**
 * The one interface every disk store implements (raw/flat files, qcow2
 * overlays, LVM volumes, RBD images), and the optional capabilities only some
 * have, each detected by a type guard. The provisioning policy
 * ({@link provision}) talks to stores only through this file.
 */
import type { DiskFormat } from '../diskinfo/formats.js';
import type { DiskInfo } from '../diskinfo/DiskInfo.js';
import type { DiskAuth, DiskIoMode, DiskSource } from '../libvirt/LibvirtDiskConfig.js';
import type { RbdBase, RbdBaseMade, RbdBaseSource } from './RbdBaseImages.js';
import type { ImageServiceImage, InstanceRef } from './types.js';

/** A cached base image as the policy inspected it once: stores never inspect it again. */
export interface CachedBase {
  /** The base file in the cache folder. */
  path: string;
  /** Its format from the one inspection (`raw`, `qcow2`...). */
  format: string;
  /** Its virtual size in bytes from that inspection. */
  virtualSize: number;
}

/** {@link DiskStore.create} from a cached base. */
export interface CreateFromBase {
  /** Discriminant: the disk is made from {@link CreateFromBase.base}. */
  kind: 'base';
  /** The checked base. */
  base: CachedBase;
  /** The size asked for, bytes; 0: the base's size. Never smaller than the base (the policy checked). */
  size: number;
  /**
   * Runs `fn` holding the base's lock shared (the image-cache manager cannot
   * remove the base meanwhile); `fn`'s signal fires when the caller aborts or
   * the lock is lost. A store holds it while it reads the base or publishes
   * a disk that depends on it, and no longer.
   */
  holdBase<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Aborts the copy, import or write. */
  signal?: AbortSignal;
}

/** {@link DiskStore.create} of a generated disk (ephemeral, swap) written in place. */
export interface CreateGenerated {
  /** Discriminant: `write` fills the new disk. */
  kind: 'generated';
  /** The size asked for, bytes (volumes are made this large; files get what `write` writes). */
  size: number;
  /** Writes the disk at `target` (a file the store names, or the new volume's device). */
  write(target: string): Promise<void>;
  /** Aborts the write. */
  signal?: AbortSignal;
}

/** What {@link DiskStore.create} is asked to make. */
export type CreateRequest = CreateFromBase | CreateGenerated;

/** What {@link DiskStore.create} made. */
export interface CreateResult {
  /** False when another caller made the same disk first (this call's copy was dropped). */
  created: boolean;
  /** The format of the new disk (recorded in disk.info for file disks). */
  format: DiskFormat;
  /** Its virtual size in bytes. */
  virtualSize: number;
}

/** Options of {@link DiskStore.grow}. */
export interface GrowOptions {
  /** The disk's size in bytes, when the caller has just read it (spares the store asking again). */
  currentSize?: number;
}

/** Options of {@link DiskStore.remove}. */
export interface RemoveOptions {
  /** lvm: wipe before removing, overriding the backend's `volumeClear` (nova's `volume_clear`). */
  volumeClear?: 'none' | 'zero' | 'shred';
  /** lvm: wipe only the first MiB (0 = all), overriding `volumeClearSizeMiB`. */
  volumeClearSizeMiB?: number;
}

/** Options of {@link DiskStore.extract}. */
export interface ExtractOptions {
  /** Compress the target (`qemu-img convert -c`; qcow2 targets only). */
  compress?: boolean;
  /** Aborts the conversion. */
  signal?: AbortSignal;
}

/**
 * One kind of disk storage: what the provisioning policy and the disk
 * handle need from it, and nothing more. Every method may be called on a
 * disk that does not exist yet except where it says otherwise.
 *
 * @example
 * ```ts
 * const store = backend.image({ uuid }, 'disk').store;
 * if (!(await store.exists())) console.log(`${store.path} is not there yet`);
 * ```
 */
export interface DiskStore {
  /** The store's kind: `raw`, `qcow2`, `lvm`, `rbd`, or a registered one. */
  readonly kind: string;
  /** libvirt's name of the disk: a file path, a device, or nova's `rbd:pool/image…` pseudo-path. */
  readonly path: string;
  /** libvirt's `<disk type>`: `file`, `block` or `network`. */
  readonly sourceType: 'file' | 'block' | 'network';
  /** The format the disk is created in (nova's `driver_format`). */
  readonly driverFormat: DiskFormat;
  /** `preallocateImages: 'space'` is set and applies to this store (file disks). */
  readonly preallocate: boolean;
  /** The `<driver io>` the store asks for (`native` for preallocated files and dense volumes), before the cache mode is considered. */
  readonly driverIo: DiskIoMode | undefined;
  /** The instance's disk.info, for stores whose disks are files whose format is remembered. */
  readonly diskInfo: DiskInfo | undefined;
  /** The disk lives on storage every host sees (rbd). */
  readonly sharedBlockStorage: boolean;
  /** The disk is a file in the instance folder (raw, qcow2). */
  readonly fileInInstancePath: boolean;
  /** The disk needs its base in the cache while it exists (a qcow2 backing file; nova re-fetches it for raw files too). */
  readonly keepsBase: boolean;

  /** Whether the disk exists (a leftover of a killed creation does not count). */
  exists(): Promise<boolean>;
  /** The disk's virtual size in bytes (it must exist). */
  size(): Promise<number>;
  /** Whether a disk asked for with these options is generated in place rather than made from a base. */
  generatesInPlace(options: { imageId?: string | undefined; ephemeralSize?: number | undefined; size?: number | undefined }): boolean;
  /** Makes the disk; a failure leaves nothing behind. */
  create(request: CreateRequest): Promise<CreateResult>;
  /** Grows the disk to `size` bytes; never shrinks. Resolves whether it grew. `currentSize`: the disk's size when the caller just read it. */
  grow(size: number, options?: GrowOptions): Promise<boolean>;
  /** Removes the disk (only what this library made: the disk itself); a disk already gone is not an error. */
  remove(options?: RemoveOptions): Promise<void>;
  /** Copies the disk to a local file `target` in `format` (nova's `snapshot_extract`; `iso` means raw). */
  extract(target: string, format: string, options?: ExtractOptions): Promise<void>;
  /** The `<source>` of the disk's libvirt XML. */
  source(): Promise<DiskSource>;
  /** The `<auth>` of the disk's libvirt XML; rejects when the storage needs a secret none is configured for. */
  auth(): Promise<DiskAuth | undefined>;
  /** The disk's format when disk.info does not know it (nova's `_get_driver_format`). */
  detectFormat(): Promise<DiskFormat>;
  /** Refuses (throws `IMAGE_UNACCEPTABLE`) a base this store cannot make a disk from, e.g. a non-raw base for rbd; the policy then drops the base and fetches it again. */
  accepts?(base: CachedBase): void;
  /** Runs after the policy found the disk present with its base cached: a store repairs what nova's older versions left (qcow2's resized backing files). */
  adopt?(base: CachedBase, signal?: AbortSignal): Promise<void>;
}

/** A store that can make its disk a copy-on-write clone of an image the image service keeps on the same storage. */
export interface CloneCapable {
  /**
   * Makes the disk a clone of `imageId` (`image`: its record with
   * locations, when the caller has it); rejects with `IMAGE_UNACCEPTABLE`
   * when the image cannot be cloned (the policy then fetches instead).
   */
  clone(context: unknown, imageId: string, image?: ImageServiceImage): Promise<void>;
  /** Makes a cloned disk independent of its parent; a disk without a parent is left alone. */
  flatten(): Promise<void>;
}

/**
 * A store that keeps base images in its own storage and makes disks as
 * copy-on-write clones of them (rbd: RBD images `_base~<filename>` in the
 * pool, see `RbdBaseImages`). The provisioning policy uses it when a
 * disk is cached with no `fetch`: it owns the locks, the store the storage.
 */
export interface HeldBaseCapable {
  /** Base `filename` when it is complete and can be cloned, else undefined. */
  findBase(filename: string): Promise<RbdBase | undefined>;
  /** Makes base `filename` from the image service, or finishes one a killed attempt renamed but did not snapshot (called under the base's exclusive lock; `fetched`: this call downloaded it); nothing is left when it fails. */
  createBase(filename: string, source: RbdBaseSource): Promise<RbdBaseMade>;
  /** Makes the disk a clone of `base` (called under the base's shared lock); `RBD_NOT_FOUND` when the base is gone. */
  cloneBase(base: RbdBase): Promise<void>;
}

/** A store whose disks have snapshots. */
export interface SnapshotCapable {
  /** Takes snapshot `name` of the disk. */
  createSnap(name: string): Promise<void>;
  /** Removes snapshot `name`; false when there was none (or, without `ignoreErrors`, when it is protected). */
  removeSnap(name: string, options?: { ignoreErrors?: boolean }): Promise<boolean>;
  /** Rolls the disk back to snapshot `name`. */
  rollbackToSnap(name: string): Promise<void>;
}

/** A store that can snapshot a disk straight into the image service's storage. */
export interface DirectSnapshotCapable {
  /** Snapshots the disk into image `imageId` where the image service can reference it; returns that location's URL. */
  directSnapshot(context: unknown, snapshotName: string, imageFormat: string, imageId: string, baseImageId: string): Promise<string>;
  /** Undoes what a failed {@link DirectSnapshotCapable.directSnapshot} left. */
  cleanupDirectSnapshot(location: { url: string } | undefined, options?: { alsoDestroyVolume?: boolean; ignoreErrors?: boolean }): Promise<void>;
}

/** A store that can take a local file in as one of an instance's disks (nova's `import_file`). */
export interface FileImportCapable {
  /** Imports `localFile` as the instance's disk `remoteName`, replacing one that exists. */
  importFile(instance: InstanceRef, localFile: string, remoteName: string): Promise<void>;
}

// A capability is a set of methods: present only on the stores that have them (never stubs).
function hasMethods(store: object, ...names: string[]): boolean {
  return names.every((name) => typeof (store as Record<string, unknown>)[name] === 'function');
}

/**
 * Whether `store` can clone (rbd).
 *
 * @example
 * ```ts
 * if (canClone(disk.store)) await disk.store.clone(context, imageId);
 * ```
 */
export function canClone<S extends DiskStore>(store: S): store is S & CloneCapable {
  return hasMethods(store, 'clone', 'flatten');
}

/**
 * Whether `store` holds bases in its own storage and clones disks from them (rbd).
 *
 * @example
 * ```ts
 * if (canHoldBases(disk.store)) console.log(await disk.store.findBase(cacheFileName(imageId)));
 * ```
 */
export function canHoldBases<S extends DiskStore>(store: S): store is S & HeldBaseCapable {
  return hasMethods(store, 'findBase', 'createBase', 'cloneBase');
}

/**
 * Whether `store` has snapshots (rbd).
 *
 * @example
 * ```ts
 * if (canSnapshot(disk.store)) await disk.store.createSnap('nova-resize');
 * ```
 */
export function canSnapshot<S extends DiskStore>(store: S): store is S & SnapshotCapable {
  return hasMethods(store, 'createSnap', 'removeSnap', 'rollbackToSnap');
}

/**
 * Whether `store` can snapshot straight into the image service's storage (rbd).
 *
 * @example
 * ```ts
 * if (canDirectSnapshot(disk.store)) url = await disk.store.directSnapshot(context, 'snap', 'raw', newId, baseId);
 * ```
 */
export function canDirectSnapshot<S extends DiskStore>(store: S): store is S & DirectSnapshotCapable {
  return hasMethods(store, 'directSnapshot', 'cleanupDirectSnapshot');
}

/**
 * Whether `store` imports local files as disks (rbd).
 *
 * @example
 * ```ts
 * if (canImportFile(disk.store)) await disk.store.importFile(instance, configDrive, 'disk.config');
 * ```
 */
export function canImportFile<S extends DiskStore>(store: S): store is S & FileImportCapable {
  return hasMethods(store, 'importFile');
}
