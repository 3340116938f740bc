/**
 * Base images held in the rbd store's own pool: the image pipeline's answer
 * to "the image cannot be cloned from the image service" (a Glance file
 * store, another cluster). The first disk of an image streams it from the
 * image service into the RBD image `_base~<filename>` (a non-raw image is
 * converted by qemu-img straight into it), written under a staging name and
 * renamed only once complete and verified, then snapshotted (`snap`,
 * protected); that disk and every later one is a copy-on-write clone of the
 * snapshot. Nothing is written under `<instancesPath>/_base` but a raw
 * image's 1 MiB header probe (a qcow2 download too, while it is converted).
 *
 * The name: instance volumes are `<uuid>_<disk name>` of letters, digits and
 * `_.+-` only (RbdStore checks both words), so a `~` can never appear in one
 * and a base cannot collide with any disk, or with a disk's staging image.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { PARTIAL_INFIX } from '../cache/BaseImageCache.js';
import { ImageBackendError, RbdBusyError, RbdError, RbdExistsError, RbdNotFoundError, invalidArgument } from '../errors.js';
import { tempSibling } from '../fsutil/atomic.js';
import { checkFileName } from '../names.js';
import { fetchToRbd } from '../images/fetchToRbd.js';
import type { ImageRecord, ImageService as DownloadingImageService } from '../images/ImageService.js';
import { toDiskSize } from '../rbd/sizes.js';
import { STAGING_INFIX } from '../rbd/staging.js';
import type { ImageServiceImage, RbdStoreDriver, StoreContext } from './types.js';

/** What every RBD base image's name starts with: `_base~<filename>`. */
export const RBD_BASE_PREFIX = '_base~';

/** The snapshot of a base image that disks are cloned from. */
export const RBD_BASE_SNAPSHOT = 'snap';

/** A complete base image in the pool: snapshotted, ready to clone. */
export interface RbdBase {
  /** The base's file name in the cache sense (`cacheFileName(imageId)`), which also names its lock. */
  filename: string;
  /** The RBD image, `_base~<filename>`. */
  name: string;
  /** The pool it is in (the store's pool). */
  pool: string;
  /** The snapshot clones are made from. */
  snapshot: string;
  /** Its size in bytes: the image's virtual size. */
  virtualSize: number;
}

/** What {@link RbdBaseImages.create} resolves to: the base, and whether this call downloaded it. */
export interface RbdBaseMade extends RbdBase {
  /** True when this call downloaded the image; false when it only finished a base a killed attempt had renamed but not snapshotted. */
  fetched: boolean;
}

/** Where {@link RbdBaseImages.create} gets the image. */
export interface RbdBaseSource {
  /** The image service; it must be able to `download`. */
  imageService: DownloadingImageService;
  /** The caller's request context for the image service. */
  context: unknown;
  /** The image. */
  imageId: string;
  /** Its record when already read (nothing is asked twice). */
  image?: ImageServiceImage;
  /** The largest acceptable virtual size (the disk's size), bytes; 0 or absent: any. */
  maxSize?: number;
  /** Aborts the download or conversion; what was written is removed. */
  signal?: AbortSignal;
}

/** What {@link RbdBaseImages.removeUnused} did. */
export interface RbdBaseRemovalReport {
  /** Base images removed (they had no clones). */
  removed: string[];
  /** Base images kept because disks are cloned from them. */
  inUse: string[];
  /** Staging images of bases that killed attempts left, removed (one still watched waits for a later pass). */
  staging: string[];
  /** Base images that could not be removed, with the error. */
  failed: Array<{
    /** The base image's name. */
    name: string;
    /** Why. */
    error: ImageBackendError;
  }>;
}

/**
 * The base images of one backend's rbd pool. The rbd store uses it when a
 * disk is cached with no `fetch`; an operator (or a periodic task, as nova's
 * image cache manager) lists and removes the unused ones.
 *
 * Locks: creating a base takes the base's lock (`nova-<filename>`, the one
 * the file cache takes) exclusively, so one process of the hosts sharing the
 * lock folder makes it; hosts that do not share it race on the final name,
 * and the first rename wins (the others drop their staging image and use the
 * winner's). Clones are made under the same lock taken shared, and removal
 * takes it exclusively and refuses a base that has clones: unprotecting its
 * snapshot fails while any clone exists, anywhere in the cluster.
 *
 * @example
 * ```ts
 * const bases = new RbdBaseImages(backend.context);
 * console.log(await bases.list());                    // [{ filename, name: '_base~9e88…', virtualSize, … }]
 * const { removed, inUse } = await bases.removeUnused(); // never one with clones
 * ```
 */
export class RbdBaseImages {
  /** The pool the bases live in: the rbd store's pool. */
  readonly pool: string;
  readonly #context: StoreContext;
  readonly #driver: RbdStoreDriver;

  constructor(context: StoreContext) {
    this.#context = context;
    this.#driver = context.rbdDriver();
    this.pool = this.#driver.pool;
  }

  /**
   * The RBD image name of base `filename`.
   *
   * @example
   * ```ts
   * bases.nameOf(cacheFileName(imageId)); // '_base~9e8817…'
   * ```
   */
  nameOf(filename: string): string {
    checkFileName(filename, 'filename', 'a base file name');
    return `${RBD_BASE_PREFIX}${filename}`;
  }

  /**
   * Base `filename` when it is complete (its snapshot taken), else undefined.
   * Reads the snapshot's size from the `rbd` class methods: no image is opened.
   *
   * @example
   * ```ts
   * const base = await bases.find(cacheFileName(imageId));
   * ```
   */
  async find(filename: string): Promise<RbdBase | undefined> {
    const name = this.nameOf(filename);
    if (!(await this.#driver.exists(name, this.pool, RBD_BASE_SNAPSHOT))) return undefined;
    const virtualSize = toDiskSize(await this.#driver.size(name, this.pool), { operation: 'find', pool: this.pool, image: name });
    return { filename, name, pool: this.pool, snapshot: RBD_BASE_SNAPSHOT, virtualSize };
  }

  /**
   * Makes base `filename` from the image service: streamed (raw) or
   * converted (any other format) into a staging image, verified, renamed,
   * snapshotted and protected. A base whose rename happened but whose
   * snapshot did not (a crash between the two) is completed, not fetched
   * again. Call it holding the base's lock exclusively (the provisioning
   * policy does); leftovers of killed attempts (staging images, local
   * downloads) are swept first.
   *
   * @example
   * ```ts
   * const base = await locks.synchronized(filename, () => bases.create(filename, { imageService, context, imageId }));
   * ```
   */
  async create(filename: string, source: RbdBaseSource): Promise<RbdBaseMade> {
    const name = this.nameOf(filename);
    const { imageService, context, imageId, signal } = source;
    if (typeof imageService?.download !== 'function') throw invalidArgument('an image service that can download', 'imageService', imageService);
    let fetched = false;
    if (!(await this.#driver.exists(name, this.pool))) {
      fetched = true;
      const cache = this.#context.cache;
      await sweepDownloads(cache.baseDir, filename);
      // One folder per attempt for the header probe or the download being converted; removed after.
      const workDir = tempSibling(cache.path(filename), PARTIAL_INFIX);
      const { user, cephConf, keyring } = this.#context.rbd ?? {};
      try {
        await mkdir(workDir, { recursive: true });
        await fetchToRbd({
          imageService,
          context,
          imageId,
          ...(source.image ? { image: source.image as ImageRecord } : {}),
          ...(source.maxSize ? { maxSize: source.maxSize } : {}),
          ...(signal ? { signal } : {}),
          diskOps: this.#context.diskOps,
          workDir,
          rbd: {
            driver: this.#driver,
            pool: this.pool,
            volume: name,
            ...(user ? { user } : {}),
            ...(cephConf ? { conf: cephConf } : {}),
            ...(keyring ? { keyring } : {}),
          },
        });
      } catch (error) {
        // Another host (not sharing this lock folder) committed the name first: its base is as good.
        if (!(error instanceof RbdExistsError)) throw error;
      } finally {
        await rm(workDir, { recursive: true, force: true }).catch(() => undefined);
      }
    }
    await this.#snapshot(name);
    const base = await this.find(filename);
    if (!base) throw new RbdNotFoundError(`base image ${this.pool}/${name} disappeared while it was made`, { operation: 'createBase', pool: this.pool, image: name });
    return { ...base, fetched };
  }

  /**
   * Takes and protects the base's snapshot (clone format 1 clones only a
   * protected one, and protection is what makes removal refuse a base with
   * clones); a snapshot another writer took first, or left unprotected when
   * it died, is fine.
   */
  async #snapshot(name: string): Promise<void> {
    try {
      await this.#driver.createSnap(name, RBD_BASE_SNAPSHOT, { pool: this.pool });
    } catch (error) {
      if (!(error instanceof RbdExistsError)) throw error;
    }
    await this.#driver.protectSnap(name, RBD_BASE_SNAPSHOT, { pool: this.pool });
  }

  /**
   * The complete bases in the pool, sorted by name (staging images of
   * bases being made, or left by killed attempts, are not bases).
   *
   * @example
   * ```ts
   * for (const base of await bases.list()) console.log(base.name, base.virtualSize);
   * ```
   */
  async list(): Promise<RbdBase[]> {
    const names = (await this.#driver.listVolumes(this.pool)).filter((n) => n.startsWith(RBD_BASE_PREFIX) && !n.includes(STAGING_INFIX)).sort();
    const bases: RbdBase[] = [];
    for (const name of names) {
      const base = await this.find(name.slice(RBD_BASE_PREFIX.length)).catch(() => undefined);
      if (base) bases.push(base);
    }
    return bases;
  }

  /**
   * Removes base `filename` unless disks are cloned from it: under the base's
   * lock (exclusive, so no clone is being made from it here), its snapshot is
   * unprotected, which Ceph refuses while any clone exists; then the
   * snapshot and the image are removed. Resolves true when removed, false
   * when it has clones (or was not there).
   *
   * @example
   * ```ts
   * if (!(await bases.remove(cacheFileName(imageId)))) console.log('still in use');
   * ```
   */
  async remove(filename: string): Promise<boolean> {
    const name = this.nameOf(filename);
    return this.#context.locks.synchronized(filename, async () => {
      if (!(await this.#driver.exists(name, this.pool))) return false;
      try {
        // force: unprotect first; Ceph refuses (EBUSY) while the snapshot has clones.
        await this.#driver.removeSnap(name, RBD_BASE_SNAPSHOT, { pool: this.pool, force: true });
      } catch (error) {
        if (error instanceof RbdBusyError) return false;
        throw error;
      }
      await this.#driver.destroyVolume(name, this.pool);
      return true;
    });
  }

  /**
   * Removes every base that no disk is cloned from (see {@link RbdBaseImages.remove})
   * and the staging images killed attempts left (once Ceph has dropped the
   * dead writer's watch), and reports what it removed, what is in use and
   * what failed.
   *
   * @example
   * ```ts
   * const report = await bases.removeUnused();
   * ```
   */
  async removeUnused(): Promise<RbdBaseRemovalReport> {
    const report: RbdBaseRemovalReport = { removed: [], inUse: [], staging: [], failed: [] };
    const all = (await this.#driver.listVolumes(this.pool)).filter((n) => n.startsWith(RBD_BASE_PREFIX));
    // Bases, and the names of bases that only killed attempts left staging images of.
    const names = [...new Set(all.map((n) => (n.includes(STAGING_INFIX) ? n.slice(0, n.lastIndexOf(STAGING_INFIX)) : n)))].sort();
    const present = new Set(all);
    for (const name of names) {
      const filename = name.slice(RBD_BASE_PREFIX.length);
      try {
        if (all.some((n) => n !== name && n.startsWith(`${name}${STAGING_INFIX}`))) {
          // Under the base's lock: no attempt of this lock folder is writing one now.
          report.staging.push(...(await this.#context.locks.synchronized(filename, () => this.#driver.sweepStaging(name, this.pool))));
        }
        if (!present.has(name)) continue;
        if (await this.remove(filename)) report.removed.push(name);
        else report.inUse.push(name);
      } catch (error) {
        const wrapped = error instanceof ImageBackendError ? error : new RbdError(`cannot remove base image ${this.pool}/${name}: ${String(error)}`, { operation: 'removeUnused', pool: this.pool, image: name, cause: error });
        report.failed.push({ name, error: wrapped });
      }
    }
    return report;
  }
}

/** Removes the per-attempt folders of killed attempts at base `filename` (`<filename>.part-*` in the cache folder). */
async function sweepDownloads(baseDir: string, filename: string): Promise<void> {
  const entries = await readdir(baseDir).catch(() => [] as string[]);
  for (const entry of entries) {
    if (entry.startsWith(`${filename}${PARTIAL_INFIX}`)) await rm(join(baseDir, entry), { recursive: true, force: true }).catch(() => undefined);
  }
}
