import { abortError, withAbortHandle } from '../abort.js';
import { checkRbdName } from '../names.js';
import type { RbdImageStat, RbdLayout, RbdParentInfo, RbdSnapshotInfo } from './types.js';
import { abandonedCall, rbdCall } from './errors.js';
import { lateClone, removeWhenLanded } from './lateClones.js';
import { checkRbdSize } from './sizes.js';
import type { GatedCall } from './SnapshotOpenGate.js';
import { commitStaged, nameTaken, stagingName, sweepStaging } from './staging.js';
import type { RbdPool } from './RbdPool.js';

export type { RbdImageStat, RbdLayout, RbdParentInfo, RbdSnapshotInfo } from './types.js';

/** Options of {@link RbdImage.resize} (and of `RbdDriver.resize` in `imagebackend/nova`). */
export interface RbdResizeOptions {
  /** Allow a size below the current one (the data past it is lost). Default false: a shrink is refused. */
  allowShrink?: boolean;
}

/** Options of {@link RbdImage.import} and {@link RbdImage.export}. */
export interface RbdTransferOptions {
  /** Called now and then with bytes processed and the total. */
  onProgress?: (done: number, total: number) => void;
  /** Aborting stops the transfer; what it created is removed. */
  signal?: AbortSignal;
  /** Bytes per I/O. Default 4 MiB (one RBD object). */
  chunkSize?: number;
  /** I/Os in flight. Default 8. */
  concurrency?: number;
}

/**
 * What a transfer did, in bigints as every RBD size. (The `onProgress`
 * callback gets numbers: it is for showing progress, and a count past 2^53
 * rounds by at most a few bytes there.)
 */
export interface RbdTransferResult {
  /** Bytes covered: the source file's (or device's) size for an import, the image's or snapshot's size for an export. */
  size: bigint;
  /** Bytes actually written (zeros and holes are skipped). */
  bytesWritten: bigint;
}

/**
 * One RBD image by name. Every call opens the image on a worker thread, does
 * its librbd call(s) and closes it again, over the cluster's shared connection.
 *
 * @example
 * ```ts
 * const disk = cluster.pool('vms').image('uuid_disk');
 * if (!(await disk.exists())) await disk.create(10n * 2n ** 30n);
 * ```
 *
 * Sizes are bigints: librbd's are 64-bit, and an image (thin, so this costs
 * nothing) can be far larger than 2^53 bytes, where a number rounds. Sizes
 * given may be bigints or numbers that are safe integers.
 */
export class RbdImage {
  /** The pool the image is in. */
  readonly pool: RbdPool;
  /** The image's name in its pool. */
  readonly name: string;

  /**
   * @throws {@link InvalidArgumentError} (`INVALID_ARGUMENT`) when `name` is not
   * an acceptable RBD image name (see `checkRbdName`): empty, NUL or other
   * control characters, `/` or `@`, a leading `-`, `.` or `..`, too long.
   */
  constructor(pool: RbdPool, name: string) {
    this.pool = pool;
    this.name = checkRbdName(name, 'image', 'an image name');
  }

  get #n() {
    return this.pool.cluster.native;
  }

  // Metadata calls settle within the op timeout (plus a margin) even when librbd does not return.
  get #bound() {
    return this.pool.cluster.operationBoundMs;
  }

  // The snapshot-open/clone gate's entry for a call, on the librbd releases
  // that need it (RbdCluster.snapshotOpenGate); undefined elsewhere.
  #gate(kind: GatedCall): (() => Promise<() => void>) | undefined {
    const gate = this.pool.cluster.snapshotOpenGate;
    return gate ? () => gate.enter(kind) : undefined;
  }

  // A call that opens the image at `snapshot`, when there is one, goes through the gate.
  #snapshotGate(snapshot: string | undefined): (() => Promise<() => void>) | undefined {
    return snapshot === undefined ? undefined : this.#gate('snapshotOpen');
  }

  /**
   * Whether the image (or its snapshot) exists and can be opened read-only.
   *
   * @example
   * ```ts
   * await cluster.pool('images').image('base').exists('snap') // true
   * ```
   */
  exists(snapshot?: string): Promise<boolean> {
    const { addon, handle } = this.#n;
    return rbdCall(
      'exists',
      () => addon.rbdExists(handle, this.pool.name, this.name, optionalSnapshot(snapshot)),
      this.#bound,
    );
  }

  /**
   * Creates the image with `size` bytes (a bigint up to 2^64 - 1, or a
   * number that is a safe integer; librbd refuses a size it cannot address).
   *
   * @throws {@link InvalidArgumentError} (`INVALID_ARGUMENT`) for any other
   * size, a number past `Number.MAX_SAFE_INTEGER` included (it was rounded).
   *
   * @example
   * ```ts
   * await image.create(2n ** 30n, { order: 22 });
   * await image.create(2n ** 60n); // thin: an exabyte costs nothing until written
   * ```
   */
  create(size: number | bigint, layout: RbdLayout = {}): Promise<void> {
    const { addon, handle } = this.#n;
    const create = () => addon.rbdCreate(handle, this.pool.name, this.name, checkRbdSize(size, 'size'), layout);
    return rbdCall('create', create, this.#bound);
  }

  /**
   * Removes the image (fails with RBD_BUSY while it has snapshots or watchers).
   *
   * @example
   * ```ts
   * await image.remove();
   * ```
   */
  remove(): Promise<void> {
    const { addon, handle } = this.#n;
    return rbdCall('remove', () => addon.rbdRemove(handle, this.pool.name, this.name));
  }

  /**
   * Resizes the image to `size` bytes. Growing is always allowed; shrinking
   * (which drops the data past `size`) only with `allowShrink: true`, else the
   * call rejects with {@link InvalidArgumentError} (`INVALID_ARGUMENT`, errno
   * `EINVAL`) and the image is left as it was, as `rbd resize` and
   * `qemu-img resize` refuse without their shrink flags. `size` is checked
   * as {@link RbdImage.create}'s.
   *
   * @example
   * ```ts
   * await image.resize(20n * 2n ** 30n);
   * await image.resize(2 ** 30, { allowShrink: true }); // a deliberate shrink
   * ```
   */
  resize(size: number | bigint, options: RbdResizeOptions = {}): Promise<void> {
    const { addon, handle } = this.#n;
    const allowShrink = options.allowShrink ?? false;
    return rbdCall('resize', () => addon.rbdResize(handle, this.pool.name, this.name, checkRbdSize(size, 'size'), { allowShrink }));
  }

  /**
   * Size, object size, order, features and flags of the image or one snapshot.
   *
   * @example
   * ```ts
   * const { size, order } = await image.stat(); // size: 10737418240n
   * ```
   */
  stat(snapshot?: string): Promise<RbdImageStat> {
    const { addon, handle } = this.#n;
    return rbdCall(
      'stat',
      () => addon.rbdStat(handle, this.pool.name, this.name, optionalSnapshot(snapshot)),
      this.#bound,
      this.#snapshotGate(snapshot),
    );
  }

  /**
   * Size in bytes of the image head, or of `snapshot` (its size when taken).
   * Read from the `rbd` class methods without opening the image.
   *
   * @example
   * ```ts
   * await image.size() // 10737418240n
   * await image.size('snap') // the size when 'snap' was taken
   * ```
   */
  async size(snapshot?: string): Promise<bigint> {
    const { addon, handle } = this.#n;
    // From the rbd class methods, head or snapshot: no image open (see README, Known issues).
    return rbdCall(
      'size',
      () => addon.rbdSize(handle, this.pool.name, this.name, optionalSnapshot(snapshot)),
      this.#bound,
    );
  }

  /**
   * Clones this image's protected `snapshot` into a new image `child` of `pool`.
   * A clone given up at its deadline (`RBD_TIMEOUT`) that librbd finishes
   * later is removed then; a clone into the same name waits for that first.
   *
   * @example
   * ```ts
   * await cluster.pool('images').image('base').clone('snap', cluster.pool('vms'), 'uuid_disk');
   * ```
   */
  async clone(snapshot: string, pool: RbdPool, child: string, layout: RbdLayout = {}): Promise<RbdImage> {
    const { addon, handle } = this.#n;
    const target = pool.image(child);
    checkRbdName(snapshot, 'snapshot');
    const clone = async () => {
      // A clone of this name given up at its deadline is removed once librbd finishes it; this one waits for
      // that first, within the same bound as the clone itself.
      await lateClone(pool, target.name);
      await addon.rbdClone(handle, this.pool.name, this.name, snapshot, pool.name, target.name, layout);
    };
    try {
      await rbdCall('clone', clone, this.#bound, this.#gate('clone'));
    } catch (error) {
      const late = abandonedCall(error);
      if (late) removeWhenLanded(pool, target.name, late);
      throw error;
    }
    return target;
  }

  /**
   * Copies the parent's data into this clone so it no longer depends on it.
   *
   * @example
   * ```ts
   * await image.flatten();
   * ```
   */
  flatten(): Promise<void> {
    const { addon, handle } = this.#n;
    return rbdCall('flatten', () => addon.rbdFlatten(handle, this.pool.name, this.name));
  }

  /**
   * The parent this clone was made from, or `null` when it has none.
   *
   * @example
   * ```ts
   * await image.parentInfo() // { pool: 'images', image: 'base', snapshot: 'snap', ... }
   * ```
   */
  parentInfo(snapshot?: string): Promise<RbdParentInfo | null> {
    const { addon, handle } = this.#n;
    return rbdCall(
      'parentInfo',
      () => addon.rbdParentInfo(handle, this.pool.name, this.name, optionalSnapshot(snapshot)),
      this.#bound,
      this.#snapshotGate(snapshot),
    );
  }

  /**
   * Snapshots of the image.
   *
   * @example
   * ```ts
   * const names = (await image.snapshots()).map((s) => s.name);
   * ```
   */
  snapshots(): Promise<RbdSnapshotInfo[]> {
    const { addon, handle } = this.#n;
    return rbdCall('snapshots', () => addon.rbdSnapList(handle, this.pool.name, this.name), this.#bound);
  }

  /**
   * Takes snapshot `snapshot` of the image.
   *
   * @example
   * ```ts
   * await image.createSnapshot('snap')
   * ```
   */
  createSnapshot(snapshot: string): Promise<void> {
    const { addon, handle } = this.#n;
    return rbdCall('createSnapshot', () => addon.rbdSnapCreate(handle, this.pool.name, this.name, checkRbdName(snapshot, 'snapshot')), this.#bound);
  }

  /**
   * Removes snapshot `snapshot` (fails with RBD_BUSY while it is protected).
   *
   * @example
   * ```ts
   * await image.removeSnapshot('snap')
   * ```
   */
  removeSnapshot(snapshot: string): Promise<void> {
    const { addon, handle } = this.#n;
    return rbdCall('removeSnapshot', () => addon.rbdSnapRemove(handle, this.pool.name, this.name, checkRbdName(snapshot, 'snapshot')), this.#bound);
  }

  /**
   * Protects snapshot `snapshot` so it can be cloned and cannot be removed.
   *
   * @example
   * ```ts
   * await image.protectSnapshot('snap')
   * ```
   */
  protectSnapshot(snapshot: string): Promise<void> {
    const { addon, handle } = this.#n;
    return rbdCall('protectSnapshot', () => addon.rbdSnapProtect(handle, this.pool.name, this.name, checkRbdName(snapshot, 'snapshot')), this.#bound);
  }

  /**
   * Unprotects snapshot `snapshot` (fails with RBD_BUSY while it has clones).
   *
   * @example
   * ```ts
   * await image.unprotectSnapshot('snap')
   * ```
   */
  unprotectSnapshot(snapshot: string): Promise<void> {
    const { addon, handle } = this.#n;
    return rbdCall('unprotectSnapshot', () => addon.rbdSnapUnprotect(handle, this.pool.name, this.name, checkRbdName(snapshot, 'snapshot')), this.#bound);
  }

  /**
   * Whether snapshot `snapshot` is protected.
   *
   * @example
   * ```ts
   * await image.isSnapshotProtected('snap') // true
   * ```
   */
  isSnapshotProtected(snapshot: string): Promise<boolean> {
    const { addon, handle } = this.#n;
    return rbdCall('isSnapshotProtected', () =>
      addon.rbdSnapIsProtected(handle, this.pool.name, this.name, checkRbdName(snapshot, 'snapshot')), this.#bound);
  }

  /**
   * Rolls the image back to snapshot `snapshot`: its data becomes the snapshot's.
   *
   * @example
   * ```ts
   * await image.rollbackToSnapshot('snap')
   * ```
   */
  rollbackToSnapshot(snapshot: string): Promise<void> {
    const { addon, handle } = this.#n;
    return rbdCall('rollbackToSnapshot', () => addon.rbdSnapRollback(handle, this.pool.name, this.name, checkRbdName(snapshot, 'snapshot')));
  }

  /**
   * Creates this image from a local raw file or block device: several writes
   * in flight, holes and zero chunks skipped. On failure or abort the partial
   * image is removed. Crash-safe: the data goes into a staging image renamed
   * to this name only when complete, so a killed process never leaves a
   * partial image that {@link RbdImage.exists} would report (the next import
   * sweeps the leftover). An existing image is refused with `RBD_EXISTS`.
   *
   * @example
   * ```ts
   * await image.import('/var/lib/nova/instances/_base/abc', { onProgress: (d, t) => bar.update(d / t) });
   * ```
   */
  async import(path: string, options: RbdTransferOptions & RbdLayout = {}): Promise<RbdTransferResult> {
    const { addon, handle } = this.#n;
    const { signal, ...rest } = options;
    if (signal?.aborted) throw abortError('import', { cause: signal.reason });
    // Crash-safe: written under a staging name, renamed when complete (staging.ts).
    await sweepStaging(this.pool, this.name);
    if (await this.exists()) throw nameTaken(this.pool, this.name, 'import');
    const staging = stagingName(this.name);
    const result = await withAbortHandle(signal, 'import', (abort) =>
      rbdCall('import', () => addon.rbdImport(handle, this.pool.name, staging, path, { ...rest, abort })),
    );
    await commitStaged(this.pool, staging, this.name, 'import');
    return result;
  }

  /**
   * Writes the image (or a snapshot) into a new local file; zeros stay holes.
   * On failure or abort the file is removed.
   *
   * @example
   * ```ts
   * await image.export('/tmp/disk.raw');
   * ```
   */
  async export(
    path: string,
    options: RbdTransferOptions & { snapshot?: string; overwrite?: boolean } = {},
  ): Promise<RbdTransferResult> {
    const { addon, handle } = this.#n;
    const { signal, ...rest } = options;
    if (rest.snapshot !== undefined) checkRbdName(rest.snapshot, 'snapshot');
    return withAbortHandle(signal, 'export', (abort) =>
      rbdCall(
        'export',
        () => addon.rbdExport(handle, this.pool.name, this.name, path, { ...rest, abort }),
        undefined,
        this.#snapshotGate(rest.snapshot),
      ),
    );
  }
}

// An optional snapshot argument: absent stays absent, anything else must be a valid name.
function optionalSnapshot(snapshot: string | undefined): string | undefined {
  return snapshot === undefined ? undefined : checkRbdName(snapshot, 'snapshot');
}
