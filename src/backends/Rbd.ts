import { rm } from 'node:fs/promises';

import type { DiskFormat } from '../diskinfo/formats.js';
import { ImageUnacceptableError, RbdExistsError, invalidArgument } from '../errors.js';
import { checkRbdName } from '../names.js';
import type { DiskAuth, DiskSource } from '../libvirt/LibvirtDiskConfig.js';
import { Image, pathExists } from './Image.js';
import type { BackendContext, CreateImageOptions, ImageLocation, InstanceRef, PrepareTemplate, RbdBackendDriver } from './types.js';


/**
 * A disk that is an RBD image in a Ceph pool (nova's `Rbd`, images type
 * `rbd`): imported from the cached base, or cloned from the image service's
 * own RBD snapshot when the image lives in the same cluster. Its libvirt
 * source is a network disk (protocol rbd, the monitors, cephx auth); its
 * disk.info pseudo-path is `rbd:pool/name[:id=user][:conf=file]`.
 *
 * @example
 * ```ts
 * const backend = new Backend({ instancesPath, imagesType: 'rbd', imageService,
 *   rbd: { pool: 'vms', cephConf: '/etc/ceph/ceph.conf', user: 'nova', secretUuid } });
 * const disk = backend.image({ uuid }, 'disk');
 * // A clone of the image service's snapshot when it lives in this cluster, else fetch + import; then grown to size.
 * await disk.cache({ fetch, filename, imageId, size, clone: { context } });
 * ```
 */
export class Rbd extends Image {
  /** The RBD image's name in the pool: `<instance uuid>_<disk name>`. */
  readonly rbdName: string;
  /** The pool of instance disks. */
  readonly pool: string;
  readonly #driver: RbdBackendDriver;

  constructor(context: BackendContext, location: ImageLocation) {
    const driver = context.rbdDriver();
    const settings = context.rbd ?? {};
    const rbdName = 'path' in location ? nameFromPath(location.path) : `${checkWord('instance.uuid', location.instance?.uuid)}_${checkWord('diskName', location.diskName)}`;
    let path = `rbd:${driver.pool}/${rbdName}`;
    if (settings.user) path += `:id=${settings.user}`;
    if (settings.cephConf) path += `:conf=${settings.cephConf}`;
    super(context, { path, sourceType: 'network', driverFormat: 'raw', isBlockDev: false, preallocate: false, usesDiskInfo: false });
    this.rbdName = rbdName;
    this.pool = driver.pool;
    this.#driver = driver;
  }

  /**
   * Whether the RBD image exists.
   *
   * @example
   * ```ts
   * await disk.exists(); // true once imported or cloned
   * ```
   */
  override async exists(): Promise<boolean> {
    return this.#driver.exists(this.rbdName);
  }

  /**
   * The RBD image's size; `path` is ignored (nova: callers may pass a local
   * base that does not exist).
   *
   * @example
   * ```ts
   * await disk.getDiskSize(base); // the volume's size in bytes
   * ```
   */
  override async getDiskSize(_path: string): Promise<number> {
    return this.#driver.size(this.rbdName);
  }

  /**
   * nova's `Rbd.create_image`: when the volume does not exist, fetch the base
   * (removing a cached base that is not raw first; rbd stores raw bytes) and
   * import it; then check the size asked for against the volume's size and
   * grow the volume to it.
   *
   * @example
   * ```ts
   * await disk.createImage((target) => fetchBase(target), base, 20 * 2 ** 30, { imageId });
   * ```
   */
  async createImage(prepare: PrepareTemplate, base: string, size: number | undefined, options: CreateImageOptions = {}): Promise<void> {
    if (!(await this.exists())) {
      // Only a base that is there can be non-raw; no lock needed to see it is absent.
      if (await pathExists(base)) await this.underBaseLock(base, () => this.#removeNonRawBase(base), options.signal);
      await prepare(base);
      // prepare may have cloned the image instead of fetching it (CacheOptions.clone).
      if (!(await this.exists())) await this.#importBase(base, options.signal);
    }
    await this.verifyBaseSize(base, size);
    if (size && size > (await this.getDiskSize(base))) await this.#driver.resize(this.rbdName, size);
  }

  async #importBase(base: string, signal: AbortSignal | undefined): Promise<void> {
    const format = (await this.context.tools.inspect(base)).format;
    if (format !== 'raw') {
      throw new ImageUnacceptableError(`base image ${base} is ${format}; the Rbd backend imports raw images only`, {
        operation: 'createImage',
        path: base,
      });
    }
    try {
      await this.underBaseLock(base, () => this.#driver.importImage(base, this.rbdName, signal ? { signal } : {}), signal);
    } catch (error) {
      // Another process imported it first.
      if (!(error instanceof RbdExistsError)) throw error;
    }
  }

  async #removeNonRawBase(base: string): Promise<void> {
    if (!(await pathExists(base))) return;
    const info = await this.context.tools.inspect(base).catch(() => undefined);
    if (info?.format !== 'raw') await rm(base, { force: true }).catch(() => undefined);
  }

  /**
   * Grows (or shrinks) the volume to `size` bytes.
   *
   * @example
   * ```ts
   * await disk.resizeImage(40 * 2 ** 30);
   * ```
   */
  async resizeImage(size: number): Promise<void> {
    await this.#driver.resize(this.rbdName, size);
  }

  /** Always raw: RBD volumes hold raw bytes. */
  protected override async detectDriverFormat(): Promise<DiskFormat> {
    return 'raw';
  }

  protected override async libvirtDriverFormat(): Promise<DiskFormat> {
    return 'raw';
  }

  protected override async diskSource(): Promise<DiskSource> {
    const hosts = (await this.#driver.getMonAddrs()).map((m) => ({ name: m.host, port: m.port }));
    return { type: 'network', protocol: 'rbd', name: `${this.pool}/${this.rbdName}`, hosts };
  }

  protected override async diskAuth(): Promise<DiskAuth | undefined> {
    const { secretUuid, user } = this.context.rbd ?? {};
    if (!secretUuid) return undefined;
    return { username: user ?? 'admin', secretType: 'ceph', secretUuid };
  }

  /**
   * Copies the volume to a local file in `outFormat` through qemu-img's rbd
   * driver (nova's `Rbd.snapshot_extract`).
   *
   * @example
   * ```ts
   * await disk.snapshotExtract('/tmp/snap.qcow2', 'qcow2');
   * ```
   */
  override async snapshotExtract(target: string, outFormat: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const { user, cephConf, keyring } = this.context.rbd ?? {};
    await this.context.qemu.convertFromRbd(
      {
        pool: this.pool,
        image: this.rbdName,
        ...(user ? { user } : {}),
        ...(cephConf ? { conf: cephConf } : {}),
        ...(keyring ? { keyring } : {}),
      },
      target,
      { srcFormat: 'raw', dstFormat: outFormat, ...(options.signal ? { signal: options.signal } : {}) },
    );
  }

  /**
   * True: every host of the cluster sees the volume.
   *
   * @example
   * ```ts
   * disk.isSharedBlockStorage(); // true
   * ```
   */
  override isSharedBlockStorage(): boolean {
    return true;
  }

  /**
   * nova's `Rbd.clone`: asks the image service for the image's locations and
   * clones the first one {@link nova!RbdDriver.isCloneable} accepts into this
   * disk's volume. Rejects with {@link ImageUnacceptableError} when the image
   * is not raw (or iso), no image service is configured, or no location can
   * be cloned; the caller then falls back to {@link Image.cache}.
   *
   * @example
   * ```ts
   * await backend.image({ uuid }, 'disk', 'rbd').clone(context, imageId);
   * ```
   */
  override async clone(context: unknown, imageId: string): Promise<void> {
    const unacceptable = (reason: string) =>
      new ImageUnacceptableError(`image ${imageId} cannot be cloned: ${reason}`, {
        operation: 'clone',
        pool: this.pool,
        image: this.rbdName,
      });
    const service = this.context.imageService;
    if (!service) throw unacceptable('no image service is configured');
    const meta = await service.get(context, imageId, { includeLocations: true });
    if (meta.disk_format !== 'raw' && meta.disk_format !== 'iso') throw unacceptable('image is not raw format');
    for (const location of meta.locations ?? []) {
      if (await this.#driver.isCloneable(location, meta)) {
        await this.#driver.clone(location, this.rbdName);
        return;
      }
    }
    throw unacceptable('no image locations are accessible');
  }

  /**
   * Makes a cloned volume independent of its parent; a volume without a
   * parent is already flat and left alone.
   *
   * @example
   * ```ts
   * await disk.flatten();
   * ```
   */
  override async flatten(): Promise<void> {
    try {
      await this.#driver.parentInfo(this.rbdName);
    } catch (error) {
      if (error instanceof ImageUnacceptableError) return;
      throw error;
    }
    await this.#driver.flatten(this.rbdName);
  }

  /**
   * Imports a local file as the instance's volume `<uuid>_<remoteName>`,
   * replacing one that exists (nova's `import_file`, e.g. for disk.config).
   *
   * @example
   * ```ts
   * await disk.importFile(instance, '/var/lib/nova/instances/uuid/disk.config', 'disk.config');
   * ```
   */
  override async importFile(instance: InstanceRef, localFile: string, remoteName: string): Promise<void> {
    const name = `${checkWord('instance.uuid', instance?.uuid)}_${checkWord('remoteName', remoteName)}`;
    if (await this.#driver.exists(name)) await this.#driver.destroyVolume(name);
    await this.#driver.importImage(localFile, name);
  }

  /**
   * Takes a snapshot of the volume.
   *
   * @example
   * ```ts
   * await disk.createSnap('nova-resize');
   * ```
   */
  override async createSnap(name: string): Promise<void> {
    await this.#driver.createSnap(this.rbdName, name);
  }

  /**
   * Removes a snapshot; false when there was none (or, without
   * `ignoreErrors`, when it is protected).
   *
   * @example
   * ```ts
   * await disk.removeSnap('nova-resize', { ignoreErrors: true });
   * ```
   */
  override async removeSnap(name: string, options: { ignoreErrors?: boolean } = {}): Promise<boolean> {
    return this.#driver.removeSnap(this.rbdName, name, options.ignoreErrors ? { ignoreErrors: true } : {});
  }

  /**
   * Rolls the volume back to a snapshot (`RBD_NOT_FOUND` when there is none).
   *
   * @example
   * ```ts
   * await disk.rollbackToSnap('nova-resize');
   * ```
   */
  override async rollbackToSnap(name: string): Promise<void> {
    await this.#driver.rollbackToSnap(this.rbdName, name);
  }

  /**
   * nova's `Rbd.direct_snapshot`: snapshots the volume, clones that snapshot
   * into `imageId` in the pool the instance's image came from, flattens the
   * clone, removes the temporary snapshot, and protects a `snap` snapshot of
   * the new image; returns its `rbd://fsid/pool/imageId/snap` URL for the
   * image service.
   *
   * @example
   * ```ts
   * const url = await disk.directSnapshot(context, 'snap-uuid', 'raw', newImageId, instance.imageRef);
   * ```
   */
  override async directSnapshot(context: unknown, snapshotName: string, _imageFormat: string, imageId: string, baseImageId: string): Promise<string> {
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
    const meta = await this.context.imageService?.get(context, baseImageId, { includeLocations: true }).catch(() => undefined);
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
   * Unprotects and removes the snapshot a {@link Rbd.directSnapshot}
   * location names; with `alsoDestroyVolume`, removes its volume too.
   *
   * @example
   * ```ts
   * await disk.cleanupDirectSnapshot({ url }, { alsoDestroyVolume: true, ignoreErrors: true });
   * ```
   */
  override async cleanupDirectSnapshot(
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
  return checkRbdName(value, name);
}

/** nova's `by_libvirt_path` for rbd: `pool/name` (libvirt's source name) or `rbd:pool/name[:opts]`. */
function nameFromPath(path: string): string {
  if (typeof path !== 'string') throw invalidArgument('an RBD path pool/name', 'path', path);
  const bare = path.startsWith('rbd:') ? (path.slice(4).split(':')[0] ?? '') : path;
  const parts = bare.split('/');
  if (parts.length !== 2) throw invalidArgument('an RBD path pool/name', 'path', path);
  return checkWord('path', parts[1]);
}
