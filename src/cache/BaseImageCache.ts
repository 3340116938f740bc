import { link, lstat, readdir, rename, rm, utimes } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { AbortError, CacheError, FetchFailedError, ImageBackendError, invalidArgument } from '../errors.js';
import { checkFileName, checkFolderPath } from '../names.js';
import { fsyncDir, fsyncFile, tempSibling } from '../fsutil/atomic.js';
import { errnoName, messageOf, systemErrorDetails } from '../fsutil/errno.js';
import { Locks, type LockService } from './Locks.js';
import type { ImageServiceImage } from '../backends/types.js';
import { makeFolders } from '../fsutil/makeFolders.js';

/** What a fetch function is asked to do. */
export interface FetchRequest {
  /**
   * The file to write the image to: a temporary name in the cache folder,
   * moved into place only after the fetch resolves.
   */
  target: string;
  /** The largest virtual size acceptable for the image, bytes (nova's `max_size`), when known. */
  maxSize?: number;
  /** Fires when the caller aborts or the cache lock is lost; stop and reject. */
  signal: AbortSignal;
  /** The caller's request context, as given to `disk.cache({ context })` (a token for the image service may be in it). */
  context?: unknown;
  /** The image's record when the provisioning call has already read it from the image service (the clone attempt does): no need to ask again. */
  image?: ImageServiceImage;
}

/** Downloads (or generates) an image into `request.target`. */
export type FetchFunction = (request: FetchRequest) => Promise<void>;

/** Options of {@link BaseImageCache.fetchOnce}. */
export interface FetchOnceOptions {
  /** Passed to the fetch function. */
  maxSize?: number;
  /** Aborts waiting for the lock, and the fetch itself. */
  signal?: AbortSignal;
}

/** How a {@link BaseImageCache} is set up. */
export interface BaseImageCacheOptions {
  /** nova's `instances_path`. */
  instancesPath: string;
  /** nova's `image_cache_subdirectory_name`; default `_base`. */
  imageCacheSubdirectoryName?: string;
  /** The locks to fetch under; default `new Locks({ lockPath: <instancesPath>/locks })`. */
  locks?: LockService;
}

/**
 * Infix of the temporary files a fetch writes: `<filename>.part-<random>`.
 *
 * @example
 * ```ts
 * const partial = (await readdir(cache.baseDir)).filter((n) => n.includes(PARTIAL_INFIX));
 * ```
 */
export const PARTIAL_INFIX = '.part-';

/**
 * The base-image cache (nova's `_base` folder and `Image.cache`'s
 * `fetch_func_sync`): each base file is fetched exactly once, however many
 * callers in however many processes ask at the same time, under the lock
 * `nova-<filename>` of `<instancesPath>/locks`. A fetch writes a temporary
 * file that is fsynced and then linked into place, so the base name only ever
 * shows a complete image; a fetch that fails, or a process killed while
 * fetching, leaves no base (its temporary file is removed, or swept by the
 * next fetch of the same name).
 *
 * @example
 * ```ts
 * const cache = new BaseImageCache({ instancesPath: '/var/lib/nova/instances' });
 * const base = await cache.fetchOnce(cacheFileName(imageId), async ({ target, signal }) => {
 *   await download(imageId, target, { signal });
 * });
 * ```
 */
export class BaseImageCache {
  /** nova's `instances_path`, made absolute. */
  readonly instancesPath: string;
  /** `<instancesPath>/<imageCacheSubdirectoryName>`. */
  readonly baseDir: string;
  /** The locks fetches run under (`nova-<filename>`); default {@link Locks} in `<instancesPath>/locks`. */
  readonly locks: LockService;

  constructor(options: BaseImageCacheOptions) {
    checkFolderPath(options?.instancesPath, 'instancesPath');
    const sub = options.imageCacheSubdirectoryName ?? '_base';
    checkFileName(sub, 'imageCacheSubdirectoryName', 'a folder name');
    this.instancesPath = resolve(options.instancesPath);
    this.baseDir = join(this.instancesPath, sub);
    this.locks = options.locks ?? new Locks({ lockPath: join(this.instancesPath, 'locks') });
  }

  /**
   * The path of base file `filename` (which need not exist).
   *
   * @example
   * ```ts
   * cache.path(cacheFileName(imageId)); // '/var/lib/nova/instances/_base/<sha1>'
   * ```
   */
  path(filename: string): string {
    checkBaseFileName(filename);
    return join(this.baseDir, filename);
  }

  /**
   * Whether base file `filename` is in the cache.
   *
   * @example
   * ```ts
   * if (!(await cache.exists(name))) console.log('first use of this image on this host');
   * ```
   */
  async exists(filename: string): Promise<boolean> {
    return isPresent(this.path(filename));
  }

  /**
   * Returns the path of base file `filename`, fetching it first when absent.
   * A base found present has its mtime set to now, so the image cache
   * manager does not age out a base that is being used.
   * The fetch runs at most once at a time per name across processes, and is
   * skipped when another caller placed the file while this one waited. The
   * fetch's own error is rethrown unchanged; nothing is left behind.
   *
   * @example
   * ```ts
   * const base = await cache.fetchOnce('9e8817...', ({ target, maxSize }) => fetchToRaw(imageId, target, maxSize), {
   *   maxSize: 20 * 2 ** 30,
   * });
   * ```
   */
  async fetchOnce(filename: string, fetch: FetchFunction, options: FetchOnceOptions = {}): Promise<string> {
    const final = this.path(filename);
    if (typeof fetch !== 'function') throw invalidArgument('a function', 'fetch', fetch);
    if (options.maxSize !== undefined && !(Number.isSafeInteger(options.maxSize) && options.maxSize >= 0)) {
      throw invalidArgument('a byte count', 'maxSize', options.maxSize);
    }
    if (await touch(final)) return final;
    const lockOptions = options.signal ? { signal: options.signal } : {};
    return this.locks.synchronized(
      filename,
      async ({ signal: lost }) => {
        // Another caller may have fetched it while this one waited.
        if (await isPresent(final)) return final;
        await this.#prepare(filename);
        const signal = options.signal ? AbortSignal.any([lost, options.signal]) : lost;
        const target = tempSibling(final, PARTIAL_INFIX);
        try {
          const request: FetchRequest = { target, signal };
          if (options.maxSize !== undefined) request.maxSize = options.maxSize;
          await fetch(request).catch((error: unknown) => {
            throw fetchFailure(error, signal, filename, target);
          });
          if (signal.aborted) throw fetchFailure(signal.reason, signal, filename, target);
          await this.#place(target, final);
        } catch (error) {
          await rm(target, { force: true, recursive: true }).catch(() => undefined);
          throw error;
        }
        return final;
      },
      lockOptions,
    );
  }

  /** Creates the cache folder and sweeps partial files of earlier, dead fetches of `filename`. */
  async #prepare(filename: string): Promise<void> {
    try {
      await makeFolders(this.baseDir);
      // Holding the lock, no live fetch of this name exists: every partial
      // file of it belongs to a process that died.
      for (const entry of await readdir(this.baseDir)) {
        if (entry.startsWith(`${filename}${PARTIAL_INFIX}`)) await rm(join(this.baseDir, entry), { force: true, recursive: true });
      }
    } catch (error) {
      throw new CacheError(`cannot prepare the cache folder: ${messageOf(error)}`, systemErrorDetails(error, 'fetchOnce', this.baseDir));
    }
  }

  /** Flushes the fetched file and gives it its final name without ever replacing an existing one. */
  async #place(target: string, final: string): Promise<void> {
    try {
      const st = await lstat(target).catch((error: unknown) => {
        if (errnoName(error) === 'ENOENT') {
          throw new CacheError(`the fetch resolved but did not write ${target}`, { operation: 'fetchOnce', path: target });
        }
        throw error;
      });
      if (!st.isFile()) {
        throw new CacheError(`the fetch left something other than a regular file at ${target}`, {
          operation: 'fetchOnce',
          path: target,
        });
      }
      await fsyncFile(target);
      try {
        // link(2) fails with EEXIST rather than replacing a base some other
        // holder placed (a stale-lock takeover race): the first base wins.
        await link(target, final);
        await rm(target, { force: true });
      } catch (error) {
        const code = errnoName(error);
        if (code === 'EEXIST') {
          await rm(target, { force: true });
        } else if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'EMLINK') {
          // A filesystem without hard links: rename, which is atomic too.
          await rename(target, final);
        } else {
          throw error;
        }
      }
      await fsyncDir(this.baseDir);
    } catch (error) {
      if (error instanceof ImageBackendError) throw error;
      throw new CacheError(`cannot place the base file ${final}: ${messageOf(error)}`, systemErrorDetails(error, 'fetchOnce', final));
    }
  }
}

/**
 * What a failed fetch rejects with: a library error as it is (the lock was
 * lost, qemu-img failed...), an abort as {@link AbortError}, anything else the
 * caller's fetch threw as {@link FetchFailedError} with it as the cause.
 */
function fetchFailure(error: unknown, signal: AbortSignal, filename: string, target: string): ImageBackendError {
  if (error instanceof ImageBackendError) return error;
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof ImageBackendError) return reason;
    return new AbortError(`fetching ${filename} was aborted`, { operation: 'fetchOnce', path: target, cause: reason });
  }
  // The errno name of a system error (ENOSPC on a full cache folder) is kept, so the caller sees why.
  const name = errnoName(error);
  return new FetchFailedError(`fetching ${filename} failed: ${messageOf(error)}`, {
    operation: 'fetchOnce',
    path: target,
    cause: error,
    ...(name === undefined ? {} : { errnoName: name }),
  });
}

function checkBaseFileName(filename: unknown): asserts filename is string {
  checkFileName(filename, 'filename', 'a base file name');
  if (filename.includes(PARTIAL_INFIX)) throw invalidArgument(`a base file name without ${PARTIAL_INFIX}`, 'filename', filename);
}

/**
 * Marks a base as just used (nova's image cache manager ages bases from their
 * mtime), telling whether it exists. A base that cannot be touched (another
 * owner, read-only filesystem) still counts as present.
 */
async function touch(path: string): Promise<boolean> {
  const now = new Date();
  try {
    await utimes(path, now, now);
    return true;
  } catch (error) {
    if (errnoName(error) === 'ENOENT') return false;
    return isPresent(path);
  }
}

async function isPresent(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errnoName(error) === 'ENOENT') return false;
    throw new CacheError(`cannot check ${path}: ${messageOf(error)}`, systemErrorDetails(error, 'fetchOnce', path));
  }
}
