import type { DiskFormat } from '../diskinfo/formats.js';
import { ImageUnacceptableError, RbdAuthNotConfiguredError, RbdExistsError, RbdNotFoundError, invalidArgument } from '../errors.js';
import type { DiskAuth, DiskSource } from '../libvirt/LibvirtDiskConfig.js';
import type {
  CloneCapable,
  CreateRequest,
  CreateResult,
  DirectSnapshotCapable,
  DiskStore,
  ExtractOptions,
  FileImportCapable,
  GrowOptions,
  HeldBaseCapable,
  SnapshotCapable,
} from './DiskStore.js';
import { RbdBaseImages, type RbdBase, type RbdBaseMade, type RbdBaseSource } from './RbdBaseImages.js';
import { targetFormat } from './FileStore.js';
import { toDiskSize } from '../rbd/sizes.js';
import type { DiskLocation, ImageServiceImage, InstanceRef, RbdStoreDriver, StoreContext } from './types.js';

const RBD_NAME = /^[A-Za-z0-9_.+-]+$/;

/** A snapshot this cluster connection has cloned from, and its size once read (a snapshot never changes size). */
interface CloneSource {
  size?: number;
}

// Per driver (one cluster connection): the image-service locations already
// found cloneable. The next disk from the same image skips the lookup; a
// snapshot gone since (RBD_NOT_FOUND on clone) is looked up again.
const cloneSources = new WeakMap<RbdStoreDriver, Map<string, CloneSource>>();

/**
 * A disk that is an RBD image in a Ceph pool (nova's `Rbd`, images type
 * `rbd`): imported from the cached base, or cloned from the image service's
 * own RBD snapshot when the image lives in the same cluster. Its libvirt
 * source is a network disk (protocol rbd, the monitors, cephx auth); its
 * disk.info pseudo-path is `rbd:pool/name[:id=user][:conf=file]`. Besides
 * the {@link DiskStore} operations it can clone, snapshot, snapshot directly
 * into the image service's pool, and import files.
 *
 * @example
 * ```ts
 * const backend = new Backend({ instancesPath, imagesType: 'rbd', imageService,
 *   rbd: { pool: 'vms', cephConf: '/etc/ceph/ceph.conf', user: 'nova', secretUuid } });
 * const disk = backend.image({ uuid }, 'disk', 'rbd');
 * // A clone of the image service's snapshot when it lives in this cluster, else fetch + import; then grown to size.
 * const report = await disk.cache({ fetch, filename, imageId, size, clone: { context } });
 * await disk.store.createSnap('nova-resize');
 * ```
 */
export class RbdStore implements DiskStore, CloneCapable, HeldBaseCapable, SnapshotCapable, DirectSnapshotCapable, FileImportCapable {
  /** `rbd`. */
  readonly kind = 'rbd';
  /** nova's pseudo-path `rbd:pool/name[:id=user][:conf=file]`. */
  readonly path: string;
  /** `network`. */
  readonly sourceType = 'network' as const;
  /** `raw`: RBD images hold raw bytes. */
  readonly driverFormat: DiskFormat = 'raw';
  /** False. */
  readonly preallocate = false;
  /** Unset. */
  readonly driverIo = undefined;
  /** None. */
  readonly diskInfo = undefined;
  /** True: every host of the cluster sees the image. */
  readonly sharedBlockStorage = true;
  /** False. */
  readonly fileInInstancePath = false;
  /** False: the base is imported and not read again. */
  readonly keepsBase = false;
  /** The RBD image's name in the pool: `<instance uuid>_<disk name>`. */
  readonly rbdName: string;
  /** The pool of instance disks. */
  readonly pool: string;
  readonly #context: StoreContext;
  readonly #driver: RbdStoreDriver;
  /** Set by a clone until the next size query: the clone's size is its snapshot's. */
  #freshClone: CloneSource | undefined;
  #baseImages: RbdBaseImages | undefined;

  constructor(context: StoreContext, location: DiskLocation) {
    const driver = context.rbdDriver();
    const settings = context.rbd ?? {};
    const rbdName =
      'path' in location ? nameFromPath(location.path) : `${checkWord('instance.uuid', location.instance?.uuid)}_${checkWord('diskName', location.diskName)}`;
    let path = `rbd:${driver.pool}/${rbdName}`;
    if (settings.user) path += `:id=${settings.user}`;
    if (settings.cephConf) path += `:conf=${settings.cephConf}`;
    this.path = path;
    this.rbdName = rbdName;
    this.pool = driver.pool;
    this.#context = context;
    this.#driver = driver;
  }

  /**
   * Whether the RBD image exists.
   *
   * @example
   * ```ts
   * await store.exists(); // true once imported or cloned
   * ```
   */
  async exists(): Promise<boolean> {
    return this.#driver.exists(this.rbdName);
  }

  /**
   * The RBD image's size in bytes.
   *
   * @example
   * ```ts
   * await store.size();
   * ```
   */
  async size(): Promise<number> {
    const fresh = this.#freshClone;
    this.#freshClone = undefined;
    if (fresh?.size !== undefined) return fresh.size;
    const size = await this.#imageSize();
    if (fresh) fresh.size = size;
    return size;
  }

  // The driver's size (a bigint, as every RBD size) as a disk size (a number,
  // as every store's): NOT_SUPPORTED past 2^53 - 1 bytes, never rounded.
  async #imageSize(): Promise<number> {
    const bytes = await this.#driver.size(this.rbdName);
    return toDiskSize(bytes, { operation: 'size', pool: this.pool, image: this.rbdName });
  }

  /**
   * False: generated disks are generated into the cache and imported.
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
   * Imports the base (raw only: `IMAGE_UNACCEPTABLE` otherwise) and grows
   * the image to `size`. Another process importing the same disk first is
   * not an error (`created: false`).
   *
   * @example
   * ```ts
   * await store.create({ kind: 'base', base: { path, format: 'raw', virtualSize }, size: 20 * 2 ** 30 });
   * ```
   */
  async create(request: CreateRequest): Promise<CreateResult> {
    if (request.kind !== 'base') throw invalidArgument('a base (rbd disks are imported from the cache)', 'request.kind', request.kind);
    const { base, size } = request;
    this.accepts(base);
    let created = true;
    try {
      await request.holdBase((signal) =>
        this.#context.diskOps.run(() => this.#driver.importImage(base.path, this.rbdName, { signal }), { signal, name: 'import' }),
      );
    } catch (error) {
      if (!(error instanceof RbdExistsError)) throw error;
      created = false;
    }
    if (created && size > base.virtualSize) await this.#driver.resize(this.rbdName, size);
    return { created, format: 'raw', virtualSize: Math.max(size, base.virtualSize) };
  }

  /**
   * Refuses a base that is not raw (nova's `_remove_non_raw_cache_image`:
   * RBD stores raw bytes): `IMAGE_UNACCEPTABLE`, and the policy removes the
   * base and fetches it again.
   *
   * @example
   * ```ts
   * store.accepts({ path, format: 'qcow2', virtualSize }); // throws IMAGE_UNACCEPTABLE
   * ```
   */
  accepts(base: { path: string; format: string }): void {
    if (base.format === 'raw') return;
    throw new ImageUnacceptableError(`base image ${base.path} is ${base.format}; the rbd store imports raw images only`, {
      operation: 'create',
      path: base.path,
    });
  }

  /**
   * Grows the image to `size` bytes; never shrinks (the driver is asked only when the image is smaller).
   *
   * @example
   * ```ts
   * await store.grow(40 * 2 ** 30); // true when it grew
   * ```
   */
  async grow(size: number, options: GrowOptions = {}): Promise<boolean> {
    this.#freshClone = undefined;
    if (size <= (options.currentSize ?? (await this.#imageSize()))) return false;
    await this.#driver.resize(this.rbdName, size);
    return true;
  }

  /**
   * Removes the image (retrying while it is busy, as nova's `destroy_volume`); an image already gone is not an error.
   *
   * @example
   * ```ts
   * await store.remove();
   * ```
   */
  async remove(): Promise<void> {
    if (!(await this.exists())) return;
    await this.#driver.destroyVolume(this.rbdName);
  }

  /**
   * Copies the image to a local file through qemu-img's rbd driver (nova's `Rbd.snapshot_extract`).
   *
   * @example
   * ```ts
   * await store.extract('/tmp/snap.qcow2', 'qcow2');
   * ```
   */
  async extract(target: string, format: string, options: ExtractOptions = {}): Promise<void> {
    const { user, cephConf, keyring } = this.#context.rbd ?? {};
    await this.#context.qemu.convertFromRbd(
      {
        pool: this.pool,
        image: this.rbdName,
        ...(user ? { user } : {}),
        ...(cephConf ? { conf: cephConf } : {}),
        ...(keyring ? { keyring } : {}),
      },
      target,
      {
        srcFormat: 'raw',
        dstFormat: targetFormat(format, options.compress),
        ...(options.compress ? { compress: true } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      },
    );
  }

  /**
   * A network disk: protocol rbd, `pool/name`, the cluster's monitors.
   *
   * @example
   * ```ts
   * await store.source(); // { type: 'network', protocol: 'rbd', name: 'vms/uuid_disk', hosts: [...] }
   * ```
   */
  async source(): Promise<DiskSource> {
    const hosts = (await this.#driver.getMonAddrs()).map((m) => ({ name: m.host, port: m.port }));
    return { type: 'network', protocol: 'rbd', name: `${this.pool}/${this.rbdName}`, hosts };
  }

  /**
   * cephx credentials for libvirt: the user and the secret uuid. When the
   * cluster authenticates with cephx and no secret is configured, rejects
   * with `RBD_AUTH_NOT_CONFIGURED` (libvirt would hang at start).
   *
   * @example
   * ```ts
   * await store.auth(); // { username: 'nova', secretType: 'ceph', secretUuid }
   * ```
   */
  async auth(): Promise<DiskAuth | undefined> {
    const { secretUuid, user } = this.#context.rbd ?? {};
    if (secretUuid) return { username: user ?? 'admin', secretType: 'ceph', secretUuid };
    if (this.#driver.authRequired && (await this.#driver.authRequired())) {
      throw new RbdAuthNotConfiguredError(
        `the cluster of pool ${this.pool} requires cephx but no libvirt secret is configured (rbd.secretUuid, nova's rbd_secret_uuid): libvirt could not open ${this.rbdName}`,
        { operation: 'libvirtInfo', pool: this.pool, image: this.rbdName },
      );
    }
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

  /**
   * nova's `Rbd.clone`: asks the image service for the image's locations and
   * clones the first one the driver finds cloneable into this disk's image
   * (`image`: the record, read with its locations, when the caller has it).
   * Rejects with `IMAGE_UNACCEPTABLE` when the image is not raw (or iso), no
   * image service is configured, or no location can be cloned.
   *
   * @example
   * ```ts
   * await backend.image({ uuid }, 'disk', 'rbd').store.clone(context, imageId);
   * ```
   */
  async clone(context: unknown, imageId: string, image?: ImageServiceImage): Promise<void> {
    const unacceptable = (reason: string) =>
      new ImageUnacceptableError(`image ${imageId} cannot be cloned: ${reason}`, {
        operation: 'clone',
        pool: this.pool,
        image: this.rbdName,
      });
    const service = this.#context.imageService;
    if (!image && !service) throw unacceptable('no image service is configured');
    const meta = image ?? (await service!.get(context, imageId, { includeLocations: true }));
    if (meta.disk_format !== 'raw' && meta.disk_format !== 'iso') throw unacceptable('image is not raw format');
    let known = cloneSources.get(this.#driver);
    if (!known) cloneSources.set(this.#driver, (known = new Map()));
    for (const location of meta.locations ?? []) {
      const source = meta.disk_format === 'raw' ? known.get(location.url) : undefined;
      if (source) {
        try {
          await this.#driver.clone(location, this.rbdName);
          this.#freshClone = source;
          return;
        } catch (error) {
          // The snapshot is gone since it was found: look it up again, as the first time.
          if (!(error instanceof RbdNotFoundError)) throw error;
          known.delete(location.url);
        }
      }
      if (await this.#driver.isCloneable(location, meta)) {
        await this.#driver.clone(location, this.rbdName);
        const found: CloneSource = {};
        known.set(location.url, found);
        this.#freshClone = found;
        return;
      }
    }
    throw unacceptable('no image locations are accessible');
  }

  /**
   * The pool-held base `filename` (`_base~<filename>`) when it is complete, else undefined.
   *
   * @example
   * ```ts
   * const base = await store.findBase(cacheFileName(imageId));
   * ```
   */
  findBase(filename: string): Promise<RbdBase | undefined> {
    return this.#bases().find(filename);
  }

  /**
   * Makes the pool-held base `filename` from the image service (see
   * {@link RbdBaseImages.create}); the provisioning policy calls it under
   * the base's exclusive lock.
   *
   * @example
   * ```ts
   * await locks.synchronized(filename, () => store.createBase(filename, { imageService, context, imageId }));
   * ```
   */
  createBase(filename: string, source: RbdBaseSource): Promise<RbdBaseMade> {
    return this.#bases().create(filename, source);
  }

  /**
   * Makes this disk a copy-on-write clone of a pool-held base's snapshot.
   * `RBD_NOT_FOUND` when the base is gone, `RBD_EXISTS` when the disk is there.
   *
   * @example
   * ```ts
   * await store.cloneBase(base);
   * ```
   */
  async cloneBase(base: RbdBase): Promise<void> {
    const fsid = await this.#driver.getFsid();
    await this.#driver.clone({ url: `rbd://${fsid}/${base.pool}/${base.name}/${base.snapshot}` }, this.rbdName);
    // A clone is its snapshot's size until grown.
    this.#freshClone = { size: base.virtualSize };
  }

  #bases(): RbdBaseImages {
    return (this.#baseImages ??= new RbdBaseImages(this.#context));
  }

  /**
   * Makes a cloned image independent of its parent; an image without a parent is left alone.
   *
   * @example
   * ```ts
   * await store.flatten();
   * ```
   */
  async flatten(): Promise<void> {
    try {
      await this.#driver.parentInfo(this.rbdName);
    } catch (error) {
      if (error instanceof ImageUnacceptableError) return;
      throw error;
    }
    await this.#driver.flatten(this.rbdName);
  }

  /**
   * Imports a local file as the instance's image `<uuid>_<remoteName>`,
   * replacing one that exists (nova's `import_file`, e.g. for disk.config).
   *
   * @example
   * ```ts
   * await store.importFile(instance, '/var/lib/nova/instances/uuid/disk.config', 'disk.config');
   * ```
   */
  async importFile(instance: InstanceRef, localFile: string, remoteName: string): Promise<void> {
    const name = `${checkWord('instance.uuid', instance?.uuid)}_${checkWord('remoteName', remoteName)}`;
    if (await this.#driver.exists(name)) await this.#driver.destroyVolume(name);
    await this.#driver.importImage(localFile, name);
  }

  /**
   * Takes a snapshot of the image.
   *
   * @example
   * ```ts
   * await store.createSnap('nova-resize');
   * ```
   */
  async createSnap(name: string): Promise<void> {
    await this.#driver.createSnap(this.rbdName, name);
  }

  /**
   * Removes a snapshot; false when there was none (or, without `ignoreErrors`, when it is protected).
   *
   * @example
   * ```ts
   * await store.removeSnap('nova-resize', { ignoreErrors: true });
   * ```
   */
  async removeSnap(name: string, options: { ignoreErrors?: boolean } = {}): Promise<boolean> {
    return this.#driver.removeSnap(this.rbdName, name, options.ignoreErrors ? { ignoreErrors: true } : {});
  }

  /**
   * Rolls the image back to a snapshot (`RBD_NOT_FOUND` when there is none).
   *
   * @example
   * ```ts
   * await store.rollbackToSnap('nova-resize');
   * ```
   */
  async rollbackToSnap(name: string): Promise<void> {
    await this.#driver.rollbackToSnap(this.rbdName, name);
  }

  /**
   * nova's `Rbd.direct_snapshot`: snapshots the image, clones that snapshot
   * into `imageId` in the pool the instance's image came from, flattens the
   * clone, removes the temporary snapshot, and protects a `snap` snapshot of
   * the new image; returns its `rbd://fsid/pool/imageId/snap` URL.
   *
   * @example
   * ```ts
   * const url = await store.directSnapshot(context, 'snap-uuid', 'raw', newImageId, instance.imageRef);
   * ```
   */
  async directSnapshot(context: unknown, snapshotName: string, _imageFormat: string, imageId: string, baseImageId: string): Promise<string> {
    const fsid = await this.#driver.getFsid();
    const parentPool = await this.#parentPool(context, baseImageId, fsid);
    await this.#driver.createSnap(this.rbdName, snapshotName, { protect: true });
    const location = { url: `rbd://${fsid}/${this.pool}/${this.rbdName}/${snapshotName}` };
    try {
      await this.#driver.clone(location, imageId, parentPool);
      await this.#driver.flatten(imageId, parentPool);
    } finally {
      await this.cleanupDirectSnapshot(location);
    }
    await this.#driver.createSnap(imageId, 'snap', { pool: parentPool, protect: true });
    return `rbd://${fsid}/${parentPool}/${imageId}/snap`;
  }

  async #parentPool(context: unknown, baseImageId: string, fsid: string): Promise<string> {
    try {
      return (await this.#driver.parentInfo(this.rbdName)).pool;
    } catch (error) {
      if (!(error instanceof ImageUnacceptableError)) throw error;
    }
    const meta = await this.#context.imageService?.get(context, baseImageId, { includeLocations: true }).catch(() => undefined);
    for (const location of meta?.locations ?? []) {
      try {
        const parsed = this.#driver.parseUrl(location.url);
        if (parsed.fsid === fsid) return parsed.pool;
      } catch {
        // not an rbd location
      }
    }
    throw new ImageUnacceptableError(`cannot determine the parent storage pool for ${baseImageId}; cannot determine where to store images`, {
      operation: 'directSnapshot',
      pool: this.pool,
      image: this.rbdName,
    });
  }

  /**
   * Unprotects and removes the snapshot a {@link RbdStore.directSnapshot}
   * location names; with `alsoDestroyVolume`, removes its image too.
   *
   * @example
   * ```ts
   * await store.cleanupDirectSnapshot({ url }, { alsoDestroyVolume: true, ignoreErrors: true });
   * ```
   */
  async cleanupDirectSnapshot(
    location: { url: string } | undefined,
    options: { alsoDestroyVolume?: boolean; ignoreErrors?: boolean } = {},
  ): Promise<void> {
    if (!location) return;
    const { pool, image, snapshot } = this.#driver.parseUrl(location.url);
    await this.#driver.removeSnap(image, snapshot, { pool, force: true, ignoreErrors: options.ignoreErrors ?? false });
    if (options.alsoDestroyVolume) await this.#driver.destroyVolume(image, pool);
  }
}

function checkWord(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length > 255 || !RBD_NAME.test(value)) throw invalidArgument('a name of letters, digits and _.+-', name, value);
  return value;
}

/** nova's `by_libvirt_path` for rbd: `pool/name` (libvirt's source name) or `rbd:pool/name[:opts]`. */
function nameFromPath(path: string): string {
  if (typeof path !== 'string') throw invalidArgument('an RBD path pool/name', 'path', path);
  const bare = path.startsWith('rbd:') ? (path.slice(4).split(':')[0] ?? '') : path;
  const parts = bare.split('/');
  if (parts.length !== 2) throw invalidArgument('an RBD path pool/name', 'path', path);
  return checkWord('path', parts[1]);
}
