import { lstat, readdir, rm, utimes } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { CacheError, ImageBackendError, invalidArgument } from '../errors.js';
import { fsyncDir } from '../fsutil/atomic.js';
import { errnoName, messageOf, systemErrorDetails } from '../fsutil/errno.js';
import type { BaseImageCache } from './BaseImageCache.js';
import { cacheFileName } from './cacheFileName.js';
import { parseBaseFileName, type BaseFileKind } from './baseFileName.js';

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
}

/** What counts as in use for {@link ImageCacheManager.removeUnused}. */
export interface RemoveUnusedOptions {
  /** Base files that disks on this host use (their backing files): paths, or names in the cache folder. */
  inUse?: Iterable<string>;
  /** Image ids that instances on this host use: their original and every resized copy are in use. */
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
  /** Base files that could not be removed, with the error. */
  failed: Array<{
    /** The base file's absolute path. */
    path: string;
    /** Why it could not be removed (a `CACHE_FAILED` {@link CacheError}, or the lock's error). */
    error: ImageBackendError;
  }>;
}

/**
 * nova's libvirt `ImageCacheManager`: lists the base files of the cache folder
 * and removes those no disk on this host uses once they are old enough
 * (originals, swap and ephemeral files after 24 h, resized copies after 1 h by
 * default). Each removal re-checks age under the same lock `fetchOnce` takes
 * for that file, so a base being fetched or just fetched is never removed.
 * Files in use get their mtime set to `now`, so age counts from the last use.
 *
 * @example
 * ```ts
 * const manager = new ImageCacheManager({ cache });
 * const report = await manager.removeUnused({ inUse: backingFilesOfLocalDisks, inUseImageIds: ['155d900f-…'] });
 * console.log(report.removed);
 * ```
 */
export class ImageCacheManager {
  /** The cache whose folder is aged. */
  readonly cache: BaseImageCache;
  /** Minimum age in seconds of an unused original, swap or ephemeral base before removal (nova's `remove_unused_original_minimum_age_seconds`); default 86400. */
  readonly originalMinimumAgeSeconds: number;
  /** Minimum age in seconds of an unused resized copy before removal (nova's `remove_unused_resized_minimum_age_seconds`); default 3600. */
  readonly resizedMinimumAgeSeconds: number;

  constructor(options: ImageCacheManagerOptions) {
    if (!options?.cache || typeof options.cache.baseDir !== 'string') {
      throw invalidArgument('a BaseImageCache', 'cache', options?.cache);
    }
    this.cache = options.cache;
    this.originalMinimumAgeSeconds = seconds('originalMinimumAgeSeconds', options.originalMinimumAgeSeconds ?? 86_400);
    this.resizedMinimumAgeSeconds = seconds('resizedMinimumAgeSeconds', options.resizedMinimumAgeSeconds ?? 3600);
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
   * One aging pass: removes every base file that is not in use and older than
   * its minimum age; marks files in use as used now. Failures to remove one
   * file are reported, not thrown, so one bad file does not stop the pass.
   *
   * @example
   * ```ts
   * await manager.removeUnused({ inUse: new Set(['/var/lib/nova/instances/_base/9e88…']) });
   * ```
   */
  async removeUnused(options: RemoveUnusedOptions = {}): Promise<RemoveUnusedReport> {
    const now = options.now ?? Date.now();
    if (!Number.isFinite(now)) throw invalidArgument('a time in ms since the epoch', 'now', now);
    const usedNames = new Set<string>();
    for (const entry of iterable('inUse', options.inUse)) {
      const path = isAbsolute(entry) ? resolve(entry) : join(this.cache.baseDir, entry);
      if (resolve(path, '..') === this.cache.baseDir) usedNames.add(basename(path));
    }
    const usedFingerprints = new Set<string>();
    for (const id of iterable('inUseImageIds', options.inUseImageIds)) usedFingerprints.add(cacheFileName(id));

    const report: RemoveUnusedReport = { removed: [], inUse: [], tooYoung: [], failed: [] };
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
