/**
 * The one provisioning policy (nova's `Image.cache` and the `create_image`
 * of every backend, once): clone first where the store can, fetch the base
 * once through the cache, inspect it once (format, size, safety), check the
 * size asked for against that inspection, make the disk under the base's
 * lock (shared: many disks are made from one base at once; the fetch and the
 * cache manager's removal take it exclusively), grow, preallocate, record
 * the format in disk.info, and report what happened. Whatever this call made
 * is removed again when a later step fails; a base this call downloaded and
 * then refused is removed from the cache.
 */
import { open, rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';

import type { FetchFunction } from '../cache/BaseImageCache.js';
import { ImageBackendError, ImageUnacceptableError, ImageUnsafeError, RbdExistsError, invalidArgument } from '../errors.js';
import type { DiskFormat } from '../diskinfo/formats.js';
import type { ImageInfo } from '../image/inspect.js';
import { verifyBaseSize } from '../verify.js';
import { canClone, type CachedBase, type CreateResult, type DiskStore } from './DiskStore.js';
import { pathExists } from './files.js';
import type { CacheOptions, ProvisionReport, ProvisionTimings, StoreContext } from './types.js';

/**
 * Makes sure the disk of `store` exists, as {@link CacheOptions} asks, and
 * reports what was done. {@link Disk.cache} is this function bound to a
 * disk; call it directly to provision a store of your own.
 *
 * @example
 * ```ts
 * const report = await provision(backend.context, disk.store, { fetch, filename: cacheFileName(imageId), imageId, size });
 * console.log(report.created, report.fetched, report.timings.total);
 * ```
 */
export async function provision(context: StoreContext, store: DiskStore, options: CacheOptions): Promise<ProvisionReport> {
  checkOptions(options);
  const run = new Run(context, store, options);
  return run.go();
}

function checkOptions(options: CacheOptions): void {
  if (typeof options !== 'object' || options === null) throw invalidArgument('cache options', 'options', options);
  const { fetch, filename, size, imageId, clone } = options;
  if (typeof fetch !== 'function') throw invalidArgument('a function', 'fetch', fetch);
  if (typeof filename !== 'string' || filename === '') throw invalidArgument('a base file name', 'filename', filename);
  if (clone !== undefined && (typeof clone !== 'object' || clone === null)) throw invalidArgument('clone options', 'clone', clone);
  if (clone !== undefined && imageId === undefined) throw invalidArgument('an image id (clone needs one)', 'imageId', imageId);
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) throw invalidArgument('a byte count', 'size', size);
  if (imageId !== undefined && (typeof imageId !== 'string' || imageId === '')) throw invalidArgument('an image id', 'imageId', imageId);
}

/** One provisioning call: its inputs, what it has done so far, and its clock. */
class Run {
  readonly #context: StoreContext;
  readonly #store: DiskStore;
  readonly #options: CacheOptions;
  readonly #size: number;
  readonly #started = performance.now();
  readonly #timings: Omit<ProvisionTimings, 'total'> = {};
  #fetched = false;

  constructor(context: StoreContext, store: DiskStore, options: CacheOptions) {
    this.#context = context;
    this.#store = store;
    this.#options = options;
    this.#size = options.size ?? 0;
  }

  async go(): Promise<ProvisionReport> {
    const { imageId, ephemeralSize } = this.#options;
    if (this.#store.generatesInPlace({ imageId, ephemeralSize, size: this.#options.size })) return this.#generated();
    if (this.#options.clone) {
      // Tried before looking for the disk: a clone onto an existing disk fails with RBD_EXISTS, which saves
      // every new disk a round trip to the cluster.
      const report = await this.#cloneFirst();
      if (report) return report;
    }
    if (await this.#store.exists()) return this.#existing();
    return this.#fromBase();
  }

  /** A disk written in place by the fetch function (ephemeral, swap), under the base name's lock as nova does. */
  async #generated(): Promise<ProvisionReport> {
    const store = this.#store;
    if (await store.exists()) {
      // nova grows an existing generated disk; a new one keeps the size its generator gave it (bug 1608934).
      if (this.#size) await this.#timed('grow', () => store.grow(this.#size));
      await this.#preallocate();
      return this.#report({ created: false, base: undefined, format: await formatOf(store), virtualSize: await store.size() });
    }
    const { filename, fetch, signal } = this.#options;
    const result = await this.#timed('create', () =>
      this.#context.locks.synchronized(
        filename,
        async ({ signal: lost }) => {
          const combined = signal ? AbortSignal.any([lost, signal]) : lost;
          this.#fetched = true;
          return store.create({
            kind: 'generated',
            size: this.#size,
            signal: combined,
            write: (target) => fetch({ target, ...(this.#size ? { maxSize: this.#size } : {}), signal: combined }),
          });
        },
        signal ? { signal } : {},
      ),
    );
    return this.#finishCreated(result, undefined);
  }

  /** The disk is there: make sure its base is too (where the store reads it), check the size asked for, grow. */
  async #existing(): Promise<ProvisionReport> {
    const store = this.#store;
    let base: CachedBase | undefined;
    if (store.keepsBase) {
      const path = await this.#fetchBase();
      // One inspection serves the safety check, the size check and the repair of old disks.
      if (this.#fetched || this.#size || store.adopt) {
        base = await this.#checkedBase(path);
        if (store.adopt) await store.adopt(base, this.#options.signal);
      }
    }
    if (this.#size) {
      const reference = base ? base.virtualSize : await store.size();
      verifyBaseSize(reference, this.#size, { path: base?.path ?? store.path });
      await this.#timed('grow', () => store.grow(this.#size));
    }
    await this.#preallocate();
    return this.#report({ created: false, base: base?.path, format: await formatOf(store), virtualSize: await store.size() });
  }

  /**
   * nova's `clone_fallback_to_fetch`: a copy-on-write clone of the image
   * service's own copy, tried before any fetch (unlike nova, outside the
   * base's lock: it neither reads nor writes the cache). Undefined when the
   * caller should fetch instead.
   */
  async #cloneFirst(): Promise<ProvisionReport | undefined> {
    const store = this.#store;
    const { clone, imageId } = this.#options;
    if (!clone || imageId === undefined) return undefined;
    if (!canClone(store)) {
      if (!clone.neverDownload || (await store.exists())) return undefined;
      throw new ImageUnacceptableError(`image ${imageId} cannot be cloned: the ${store.kind} store cannot clone`, {
        operation: 'cache',
        path: store.path,
      });
    }
    try {
      await this.#timed('clone', () => store.clone(clone.context, imageId));
    } catch (error) {
      // The disk is there already: the caller goes on as for any existing disk.
      if (error instanceof RbdExistsError) return undefined;
      if (!(error instanceof ImageUnacceptableError)) throw error;
      // never_download refuses to fetch, not to use a disk that is already there.
      if (clone.neverDownload && !(await store.exists())) throw error;
      // Not cloneable, and a disk may still be there (made by an import): the caller looks.
      return undefined;
    }
    return this.#removeOnError(async () => {
      const virtualSize = await store.size();
      // The clone is the base: the flavor is checked against its size.
      verifyBaseSize(virtualSize, this.#size, { path: store.path });
      const grown = this.#size > virtualSize && (await this.#timed('grow', () => store.grow(this.#size, { currentSize: virtualSize })));
      return this.#report({ created: true, cloned: true, base: undefined, format: store.driverFormat, virtualSize: grown ? this.#size : virtualSize });
    });
  }

  /** The common case: fetch once, inspect once, check, create under the base's shared lock. */
  async #fromBase(): Promise<ProvisionReport> {
    const store = this.#store;
    const { filename, signal } = this.#options;
    let base = await this.#checkedBase(await this.#fetchBase());
    if (store.accepts) {
      try {
        store.accepts(base);
      } catch (error) {
        // nova's _remove_non_raw_cache_image: a base of the wrong kind (cached for another store) is fetched again.
        if (this.#fetched || !(error instanceof ImageUnacceptableError)) throw await this.#dropBase(base.path, error);
        await this.#dropBase(base.path);
        base = await this.#checkedBase(await this.#fetchBase());
        try {
          store.accepts(base);
        } catch (again) {
          throw await this.#dropBase(base.path, again);
        }
      }
    }
    verifyBaseSize(base.virtualSize, this.#size, { path: base.path });
    const holdBase = <T>(fn: (held: AbortSignal) => Promise<T>): Promise<T> =>
      this.#context.locks.synchronized(
        filename,
        ({ signal: lost }) => fn(signal ? AbortSignal.any([lost, signal]) : lost),
        // Many disks are made from one base at once; a fetch or the cache manager's removal excludes them.
        { shared: true, ...(signal ? { signal } : {}) },
      );
    const result = await this.#timed('create', () =>
      store.create({ kind: 'base', base, size: this.#size, holdBase, ...(signal ? { signal } : {}) }),
    );
    return this.#finishCreated(result, base.path);
  }

  /** After a create: preallocate and record the format; a failure removes what this call made. */
  async #finishCreated(result: CreateResult, base: string | undefined): Promise<ProvisionReport> {
    const store = this.#store;
    if (!result.created) {
      // Another caller made the same disk first: report it as found.
      return this.#report({ created: false, base, format: await formatOf(store), virtualSize: await store.size() });
    }
    return this.#removeOnError(async () => {
      await this.#preallocate();
      if (store.diskInfo) {
        const diskInfo = store.diskInfo;
        await this.#timed('diskInfo', () => diskInfo.recordFormat(store.path, result.format));
      }
      return this.#report({ created: true, base, format: result.format, virtualSize: result.virtualSize });
    });
  }

  /** The base's path, fetched first when absent (once across processes); notes whether this call ran the fetch. */
  async #fetchBase(): Promise<string> {
    const { filename, fetch, signal } = this.#options;
    const counting: FetchFunction = async (request) => {
      this.#fetched = true;
      await fetch(request);
    };
    return this.#timed('fetch', () =>
      this.#context.cache.fetchOnce(filename, counting, { ...(this.#size ? { maxSize: this.#size } : {}), ...(signal ? { signal } : {}) }),
    );
  }

  /**
   * The one inspection of the base: its format and virtual size, and (unless
   * `safe`) the safety check. A base this call downloaded and that fails is
   * removed from the cache.
   */
  async #checkedBase(path: string): Promise<CachedBase> {
    const { safe, signal } = this.#options;
    // A base the caller fetched or adopted is untrusted: a raw verdict is confirmed by qemu-img probing the
    // file, so a format qemu would read (and the inspector does not know) never passes for raw.
    const options = safe ? undefined : { qemuProbe: signal ? { signal } : true };
    let info: ImageInfo;
    try {
      info = await this.#timed('inspect', () => this.#context.tools.inspect(path, options));
      if (!safe) checkSafety(path, info);
    } catch (error) {
      if (this.#fetched && error instanceof ImageBackendError && (error.code === 'IMAGE_UNSAFE' || error.code === 'IMAGE_INVALID')) {
        throw await this.#dropBase(path, error);
      }
      throw error;
    }
    return { path, format: info.format, virtualSize: info.virtualSize };
  }

  /** Removes a refused base from the cache under its exclusive lock; returns `error` for throwing. */
  async #dropBase(path: string, error?: unknown): Promise<unknown> {
    await this.#context.locks
      .synchronized(this.#options.filename, () => rm(path, { force: true }))
      .catch((cleanup: unknown) => {
        if (error instanceof Error) Object.defineProperty(error, 'cleanupError', { value: cleanup, enumerable: false });
      });
    return error;
  }

  /**
   * nova's preallocation: with `preallocateImages: 'space'` on a filesystem
   * that can (probed once per backend and store kind), the disk's blocks are
   * allocated up to the size asked for. A disk this call created is removed
   * when that fails (ENOSPC).
   */
  async #preallocate(): Promise<void> {
    const store = this.#store;
    const tools = this.#context.tools;
    if (!store.preallocate || !this.#size || store.sourceType !== 'file') return;
    if (!(await canFallocate(this.#context, store)) || !(await tools.isWritable(store.path))) return;
    const size = this.#size;
    // A disk created by this call is removed by the caller's #removeOnError when this fails.
    await this.#timed('preallocate', () => tools.fallocateFile(store.path, { size, keepSize: true }));
  }

  /** Runs `fn`; if it fails, removes the disk this call made (and its disk.info entry) and rethrows. */
  async #removeOnError<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      await this.#store.remove().catch((cleanup: unknown) => {
        if (error instanceof Error) Object.defineProperty(error, 'cleanupError', { value: cleanup, enumerable: false });
      });
      throw error;
    }
  }

  async #timed<T>(step: keyof Omit<ProvisionTimings, 'total'>, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.#timings[step] = (this.#timings[step] ?? 0) + (performance.now() - t0);
    }
  }

  #report(what: { created: boolean; cloned?: boolean; base: string | undefined; format: string; virtualSize: number }): ProvisionReport {
    return {
      created: what.created,
      cloned: what.cloned ?? false,
      fetched: this.#fetched,
      format: what.format,
      virtualSize: what.virtualSize,
      base: what.base,
      timings: { ...this.#timings, total: performance.now() - this.#started },
    };
  }
}

/**
 * Refuses a base image that refers to other files or is otherwise unsafe to
 * hand to qemu (a backing file, an external data file...): nova's
 * format_inspector `safety_check`.
 */
function checkSafety(base: string, info: ImageInfo): void {
  const reasons = [...info.safety.reasons];
  if (info.backingFile !== undefined && !reasons.some((r) => r.includes('backing'))) reasons.push(`backing file: '${info.backingFile}'`);
  if (info.dataFile !== undefined && !reasons.some((r) => r.includes('data file'))) reasons.push(`data file: '${info.dataFile}'`);
  if (info.safety.safe && reasons.length === 0) return;
  throw new ImageUnsafeError(`base image ${base} failed the safety check: ${reasons.join('; ')}`, {
    reasons,
    operation: 'cache',
    path: base,
  });
}

/** The format of an existing disk: disk.info's record for file disks (recorded now if missing), the store's fixed one otherwise. */
export function formatOf(store: DiskStore): Promise<DiskFormat> {
  const diskInfo = store.diskInfo;
  return diskInfo ? diskInfo.resolveFormat(store.path, () => store.detectFormat()) : store.detectFormat();
}

// nova's `_can_fallocate`: once per backend (its context) and store kind.
const fallocateChecks = new WeakMap<StoreContext, Map<string, Promise<boolean>>>();

/**
 * Whether preallocation works where `store`'s disks live: a 1-byte test
 * file next to the disk is allocated once per backend and store kind.
 */
export function canFallocate(context: StoreContext, store: DiskStore): Promise<boolean> {
  if (!store.preallocate || store.sourceType !== 'file') return Promise.resolve(false);
  let perKind = fallocateChecks.get(context);
  if (!perKind) fallocateChecks.set(context, (perKind = new Map()));
  let check = perKind.get(store.kind);
  if (!check) {
    check = probeFallocate(context, `${store.path}.fallocate_test`);
    perKind.set(store.kind, check);
  }
  return check;
}

async function probeFallocate(context: StoreContext, probe: string): Promise<boolean> {
  try {
    if (!(await pathExists(probe))) await (await open(probe, 'w')).close();
    await context.tools.fallocateFile(probe, { size: 1 });
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { force: true }).catch(() => undefined);
  }
}
