import { lstat, readdir, rm, stat, utimes } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { CacheError, ImageBackendError, invalidArgument } from '../errors.js';
import { fsyncDir } from '../fsutil/atomic.js';
import { errnoName, messageOf, systemErrorDetails } from '../fsutil/errno.js';
import { inspect } from '../image/inspect.js';
import type { BaseImageCache, FetchRequest } from './BaseImageCache.js';
import { cacheFileName } from './cacheFileName.js';
import { parseBaseFileName, type BaseFileKind } from './baseFileName.js';
import { scanInstances, type HeaderInspector } from './scanInstances.js';

/** A base file found in the cache folder. */
export interface BaseFile {
  /** The file name in the cache folder (`<sha1>`, `<sha1>_<size>`, `swap_<MiB>`, `ephemeral_<GiB>_<hash7>`). */
  name: string;
  /** Absolute path of the file. */
  path: string;
  /** What the file is by nova's naming (see {@link parseBaseFileName}); decides its minimum age. */
  kind: BaseFileKind;
  /** SHA-1 of the image id, for originals and resized copies. */
  fingerprint?: string;
  /** Resized copies: the size suffix (`10`, `21474836480`) or `sm`. */
  suffix?: string;
  /** Last modification (or last time seen in use), ms since the epoch. */
  mtimeMs: number;
  /** Length of the file in bytes (st_size). */
  sizeBytes: number;
}

/** Ages and cache of an {@link ImageCacheManager}. */
export interface ImageCacheManagerOptions {
  /** The cache whose folder is aged; removals take its locks. */
  cache: BaseImageCache;
  /** nova's `remove_unused_original_minimum_age_seconds`, default 86400; also applies to swap and ephemeral files. */
  originalMinimumAgeSeconds?: number;
  /** nova's `remove_unused_resized_minimum_age_seconds`, default 3600. */
  resizedMinimumAgeSeconds?: number;
  /** Reads disk headers when the instances folder is scanned; default the library's native `inspect`. */
  inspector?: HeaderInspector;
}

/**
 * What counts as in use for {@link ImageCacheManager.removeUnused}, besides
 * what the scan of the instances folder finds (always done; these lists only
 * add to it, e.g. for disks of other hosts on shared storage).
 */
export interface RemoveUnusedOptions {
  /** More base files in use (backing files of disks the scan cannot see): paths, or names in the cache folder. */
  inUse?: Iterable<string>;
  /** Image ids that instances use: their original and every resized copy are in use. */
  inUseImageIds?: Iterable<string>;
  /** The current time, ms since the epoch (default `Date.now()`). */
  now?: number;
}

/** What a pass did. */
export interface RemoveUnusedReport {
  /** Removed base files. */
  removed: string[];
  /** Base files kept because they are in use (their mtime was set to `now`). */
  inUse: string[];
  /** Unused base files kept because they are younger than their minimum age. */
  tooYoung: string[];
  /** Unused, old enough base files kept only because the scan had problems (see `scanProblems`). */
  unjudged: string[];
  /**
   * Disks (or disk.info files) in the instances folder the scan could not
   * read. When there are any, nothing is removed in this pass: a disk that
   * cannot be read might be backed by any base.
   */
  scanProblems: Array<{
    /** The file or folder that could not be read. */
    path: string;
    /** Why. */
    error: unknown;
  }>;
  /** Base files that could not be removed, with the error. */
  failed: Array<{
    /** The base file's absolute path. */
    path: string;
    /** Why it could not be removed (a `CACHE_FAILED` {@link CacheError}, or the lock's error). */
    error: ImageBackendError;
  }>;
}

/** One image to put in the cache ahead of time with {@link ImageCacheManager.precache}. */
export interface PrecacheImage {
  /** The image id; its base file is `cacheFileName(imageId)` unless `filename` says otherwise. */
  imageId: string;
  /** The base file name, e.g. a generated `ephemeral_…`/`swap_…` file; default the SHA-1 of the image id. */
  filename?: string;
  /** Largest acceptable virtual size, bytes, passed to the fetch. */
  maxSize?: number;
}

/** Downloads image `imageId` into `request.target` (as {@link BaseImageCache.fetchOnce}'s fetch). */
export type PrecacheFetch = (imageId: string, request: FetchRequest) => Promise<void>;

/** Options of {@link ImageCacheManager.precache}. */
export interface PrecacheOptions {
  /** Images fetched at the same time; default 1 (nova's `[image_cache] precache_concurrency`). */
  concurrency?: number;
  /** Stops waiting and fetching; images not started are reported with an `ABORTED` error. */
  signal?: AbortSignal;
}

/** What {@link ImageCacheManager.precache} did for one image. */
export interface PrecacheResult {
  /** The image id asked for. */
  imageId: string;
  /** The base file's path. */
  path: string;
  /** True when this call fetched it; false when it was already cached (nova's `cache_image` answer). */
  fetched: boolean;
  /** Set when the image could not be cached (nothing is left behind for it). */
  error?: ImageBackendError;
}

/**
 * nova's libvirt `ImageCacheManager`: lists the base files of the cache folder
 * and removes those no disk on this host uses once they are old enough
 * (originals, swap and ephemeral files after 24 h, resized copies after 1 h by
 * default). What is in use is found as nova finds it: every pass scans the
 * instances folder (each instance's disks and the disks its disk.info names,
 * their backing files read natively, and those bases' own backing files), so
 * a base under a live qcow2 disk is never removed whoever calls; a caller's
 * lists only add to that. Each removal takes the base's lock (the one
 * `fetchOnce` takes) and re-checks age under it, so a base being fetched or
 * just used is never removed. Files in use get their mtime set to `now`, so
 * age counts from the last use.
 *
 * @example
 * ```ts
 * const manager = new ImageCacheManager({ cache });
 * const report = await manager.removeUnused();                       // the scan decides
 * await manager.removeUnused({ inUseImageIds: imagesOfOtherHosts });  // shared storage: add theirs
 * console.log(report.removed, await manager.diskUsage());
 * ```
 */
export class ImageCacheManager {
  /** The cache whose folder is aged. */
  readonly cache: BaseImageCache;
  /** Minimum age in seconds of an unused original, swap or ephemeral base before removal (nova's `remove_unused_original_minimum_age_seconds`); default 86400. */
  readonly originalMinimumAgeSeconds: number;
  /** Minimum age in seconds of an unused resized copy before removal (nova's `remove_unused_resized_minimum_age_seconds`); default 3600. */
  readonly resizedMinimumAgeSeconds: number;
  readonly #inspector: HeaderInspector;

  constructor(options: ImageCacheManagerOptions) {
    if (!options?.cache || typeof options.cache.baseDir !== 'string') {
      throw invalidArgument('a BaseImageCache', 'cache', options?.cache);
    }
    this.cache = options.cache;
    this.originalMinimumAgeSeconds = seconds('originalMinimumAgeSeconds', options.originalMinimumAgeSeconds ?? 86_400);
    this.resizedMinimumAgeSeconds = seconds('resizedMinimumAgeSeconds', options.resizedMinimumAgeSeconds ?? 3600);
    if (options.inspector !== undefined && typeof options.inspector !== 'function') throw invalidArgument('a function', 'inspector', options.inspector);
    this.#inspector = options.inspector ?? ((path) => inspect(path));
  }

  /**
   * The base files in the cache folder, sorted by name; empty when the
   * folder does not exist yet.
   *
   * @example
   * ```ts
   * const originals = (await manager.listBaseFiles()).filter((f) => f.kind === 'original');
   * ```
   */
  async listBaseFiles(): Promise<BaseFile[]> {
    const dir = this.cache.baseDir;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if (errnoName(error) === 'ENOENT') return [];
      throw new CacheError(`cannot list ${dir}: ${messageOf(error)}`, systemErrorDetails(error, 'listBaseFiles', dir));
    }
    const files: BaseFile[] = [];
    for (const name of names.sort()) {
      const parsed = parseBaseFileName(name);
      if (!parsed) continue;
      const path = join(dir, name);
      const st = await statFile(path);
      if (!st?.isFile()) continue;
      files.push({ name, path, ...parsed, mtimeMs: st.mtimeMs, sizeBytes: st.size });
    }
    return files;
  }

  /**
   * The minimum age, seconds, before an unused base file of this kind is removed.
   *
   * @example
   * ```ts
   * manager.minimumAgeSeconds('resized'); // 3600
   * ```
   */
  minimumAgeSeconds(kind: BaseFileKind): number {
    return kind === 'resized' ? this.resizedMinimumAgeSeconds : this.originalMinimumAgeSeconds;
  }

  /**
   * One aging pass: scans the instances folder for the bases its disks use,
   * then removes every base file that is not in use and older than its
   * minimum age; marks files in use as used now. Failures to remove one file
   * are reported, not thrown, so one bad file does not stop the pass; a disk
   * the scan cannot read stops every removal (see `scanProblems`).
   *
   * @example
   * ```ts
   * await manager.removeUnused({ inUse: new Set(['/var/lib/nova/instances/_base/9e88…']) });
   * ```
   */
  async removeUnused(options: RemoveUnusedOptions = {}): Promise<RemoveUnusedReport> {
    const now = options.now ?? Date.now();
    if (!Number.isFinite(now)) throw invalidArgument('a time in ms since the epoch', 'now', now);
    const scan = await scanInstances(this.cache.instancesPath, this.cache.baseDir, this.#inspector);
    const usedNames = new Set<string>(scan.inUse);
    for (const entry of iterable('inUse', options.inUse)) {
      const path = isAbsolute(entry) ? resolve(entry) : join(this.cache.baseDir, entry);
      if (resolve(path, '..') === this.cache.baseDir) usedNames.add(basename(path));
    }
    const usedFingerprints = new Set<string>();
    for (const id of iterable('inUseImageIds', options.inUseImageIds)) usedFingerprints.add(cacheFileName(id));

    const report: RemoveUnusedReport = { removed: [], inUse: [], tooYoung: [], unjudged: [], scanProblems: scan.problems, failed: [] };
    for (const file of await this.listBaseFiles()) {
      const used = usedNames.has(file.name) || (file.fingerprint !== undefined && usedFingerprints.has(file.fingerprint));
      if (used) {
        await utimes(file.path, now / 1000, now / 1000).catch(() => undefined);
        report.inUse.push(file.path);
        continue;
      }
      const maxAgeMs = this.minimumAgeSeconds(file.kind) * 1000;
      if (now - file.mtimeMs < maxAgeMs) {
        report.tooYoung.push(file.path);
        continue;
      }
      if (scan.problems.length > 0) {
        report.unjudged.push(file.path);
        continue;
      }
      try {
        const removed = await this.cache.locks.synchronized(file.name, async () => {
          // Re-check under the lock: a fetch or a user may have come along.
          const st = await statFile(file.path);
          if (!st || now - st.mtimeMs < maxAgeMs) return false;
          await rm(file.path);
          await fsyncDir(this.cache.baseDir);
          return true;
        });
        (removed ? report.removed : report.tooYoung).push(file.path);
      } catch (error) {
        const wrapped =
          error instanceof ImageBackendError
            ? error
            : new CacheError(`cannot remove ${file.path}: ${messageOf(error)}`, systemErrorDetails(error, 'removeUnused', file.path));
        report.failed.push({ path: file.path, error: wrapped });
      }
    }
    return report;
  }

  /**
   * nova's `get_disk_usage` (bugs 1878024, 1884214): the bytes the cache
   * folder's files occupy on the file system (st_blocks × 512, not their
   * virtual size: a cached image never grows), which the scheduler must
   * count as used on top of the instances' disks. 0 when the cache folder is
   * on another file system than the instances folder (it then takes nothing
   * from the instances' space) or does not exist yet.
   *
   * @example
   * ```ts
   * const reservedBytes = await manager.diskUsage(); // report to the placement service with the disks' usage
   * ```
   */
  async diskUsage(): Promise<number> {
    const dir = this.cache.baseDir;
    let names: string[];
    try {
      const [instances, cacheDir] = await Promise.all([stat(this.cache.instancesPath), stat(dir)]);
      if (instances.dev !== cacheDir.dev) return 0;
      names = await readdir(dir);
    } catch (error) {
      if (errnoName(error) === 'ENOENT') return 0;
      throw new CacheError(`cannot measure ${dir}: ${messageOf(error)}`, systemErrorDetails(error, 'diskUsage', dir));
    }
    let total = 0;
    for (const name of names) {
      // A file removed between the listing and the stat takes no space.
      const st = await lstat(join(dir, name)).catch(() => undefined);
      if (st?.isFile()) total += st.blocks * 512;
    }
    return total;
  }

  /**
   * Fetches images into the cache ahead of time (nova's image precaching,
   * `cache_image`): each through {@link BaseImageCache.fetchOnce}, so under
   * the same per-base lock as every other fetch and at most once however many
   * callers ask; an image already cached is only marked as used. One image
   * failing does not stop the others: its error is in its result.
   *
   * @example
   * ```ts
   * const results = await manager.precache([{ imageId: '155d900f-…' }], (imageId, { target, signal }) =>
   *   download(imageId, target, { signal }),
   * );
   * for (const r of results) console.log(r.imageId, r.fetched ? 'fetched' : 'already cached', r.error?.code);
   * ```
   */
  async precache(images: Iterable<PrecacheImage | string>, fetch: PrecacheFetch, options: PrecacheOptions = {}): Promise<PrecacheResult[]> {
    if (typeof fetch !== 'function') throw invalidArgument('a function', 'fetch', fetch);
    const concurrency = options.concurrency ?? 1;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw invalidArgument('a positive integer', 'concurrency', concurrency);
    const list = [...iterable('images', images as Iterable<string>)].map((entry) => normalizeImage(entry as PrecacheImage | string));
    const results: PrecacheResult[] = new Array(list.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < list.length; i = next++) {
        const image = list[i] as Required<Pick<PrecacheImage, 'imageId' | 'filename'>> & PrecacheImage;
        const path = this.cache.path(image.filename);
        let fetched = false;
        try {
          await this.cache.fetchOnce(
            image.filename,
            async (request) => {
              fetched = true;
              await fetch(image.imageId, request);
            },
            { ...(image.maxSize !== undefined ? { maxSize: image.maxSize } : {}), ...(options.signal ? { signal: options.signal } : {}) },
          );
          results[i] = { imageId: image.imageId, path, fetched };
        } catch (error) {
          const wrapped =
            error instanceof ImageBackendError
              ? error
              : new CacheError(`cannot precache image ${image.imageId}: ${messageOf(error)}`, { operation: 'precache', path, cause: error });
          results[i] = { imageId: image.imageId, path, fetched: false, error: wrapped };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, list.length) }, worker));
    return results;
  }
}

function normalizeImage(entry: PrecacheImage | string): PrecacheImage & { filename: string } {
  const image = typeof entry === 'string' ? { imageId: entry } : entry;
  if (typeof image?.imageId !== 'string' || image.imageId === '') throw invalidArgument('an image id or { imageId, filename? }', 'images', entry);
  return { ...image, filename: image.filename ?? cacheFileName(image.imageId) };
}

async function statFile(path: string): Promise<import('node:fs').Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (errnoName(error) === 'ENOENT') return undefined;
    throw new CacheError(`cannot stat ${path}: ${messageOf(error)}`, systemErrorDetails(error, 'listBaseFiles', path));
  }
}

function seconds(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalidArgument('a number of seconds', name, value);
  return value;
}

function iterable(name: string, value: Iterable<string> | undefined): Iterable<string> {
  if (value === undefined) return [];
  if (typeof value === 'string' || typeof (value as Iterable<string>)[Symbol.iterator] !== 'function') {
    throw invalidArgument('an iterable of strings', name, value);
  }
  return value;
}
