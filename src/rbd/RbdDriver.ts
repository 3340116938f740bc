import { setTimeout as sleep } from 'node:timers/promises';

import { ImageBackendError, ImageUnacceptableError, RbdBusyError, RbdNotFoundError, RbdPermissionError } from '../errors.js';
import { checkRbdName } from '../names.js';
import type { MonitorAddress } from './monmap.js';
import { RbdCluster, type RbdConnectOptions } from './RbdCluster.js';
import type {
  RbdImage,
  RbdParentInfo,
  RbdResizeOptions,
  RbdTransferOptions,
  RbdTransferResult,
} from './RbdImage.js';
import { isStagingOf, STAGING_INFIX, sweepStaging } from './staging.js';
import type { RbdStreamImportOptions, RbdStreamImportResult } from './importStream.js';
import { parseRbdUrl, type RbdLocation } from './url.js';

/**
 * nova's name for the snapshot it takes before a resize (`libvirt_utils.RESIZE_SNAPSHOT_NAME`).
 *
 * @example
 * ```ts
 * await driver.rollbackToSnap(volume, RESIZE_SNAPSHOT_NAME); // revert a resize
 * ```
 */
export const RESIZE_SNAPSHOT_NAME = 'nova-resize';

/** Configuration of {@link RbdDriver}; the nova option each one replaces is named. */
export interface RbdDriverOptions extends RbdConnectOptions {
  /** Pool of instance disks (nova: `images_rbd_pool`). */
  pool: string;
  /**
   * Attempts to remove a busy volume (nova: `rbd_destroy_volume_retries`). Default 12.
   * With the default interval that is a 55 s window: longer than Ceph's
   * `osd_client_watch_timeout` (30 s), after which the watch of a client that
   * died without closing the image (a killed qemu) expires (nova bug 1856845).
   */
  destroyRetries?: number;
  /** Pause between those attempts (nova: `rbd_destroy_volume_retry_interval`, 5 s). Default 5000. */
  destroyRetryIntervalMs?: number;
  /** An existing connection to share instead of opening one. */
  cluster?: RbdCluster;
}

/** An image-service location (Glance `locations[]` entry). */
export interface ImageLocation {
  /** The location's URL; cloneable ones are `rbd://<fsid>/<pool>/<image>/<snapshot>` (see {@link parseRbdUrl}). */
  url: string;
  /** The location's metadata as the image service gives it; not read by this library. */
  metadata?: Record<string, unknown>;
}

/** The image-service metadata the clone decision reads. */
export interface ImageMeta {
  /** The image's `disk_format` (Glance); only `raw` images are cloneable. */
  disk_format?: string;
  [key: string]: unknown;
}

/** Outcome of {@link RbdDriver.cleanupVolumes}. */
export interface CleanupReport {
  /** Names of the volumes removed. */
  removed: string[];
  /** Volumes still present after every retry, with the last error. */
  failed: Array<{
    /** The volume's name in the pool. */
    name: string;
    /** The last error removing it (often `RBD_BUSY`: watchers or snapshots). */
    error: ImageBackendError;
  }>;
}

/**
 * nova's `RBDDriver` over one shared cluster connection: the same operations
 * and the same decisions, typed errors instead of rbd exceptions, and no
 * connection set up per call.
 *
 * @example
 * ```ts
 * const driver = new RbdDriver({ pool: 'vms', cephConf: '/etc/ceph/ceph.conf', user: 'nova' });
 * if (await driver.isCloneable(location, { disk_format: 'raw' })) await driver.clone(location, 'uuid_disk');
 * await driver.close();
 * ```
 */
export class RbdDriver {
  /** The pool of instance disks (nova's `images_rbd_pool`): the default pool of every call. */
  readonly pool: string;
  readonly #options: RbdDriverOptions;
  #cluster: Promise<RbdCluster> | undefined;
  readonly #ownsCluster: boolean;

  constructor(options: RbdDriverOptions) {
    this.#options = options;
    this.pool = checkRbdName(options?.pool, 'pool');
    this.#ownsCluster = options.cluster === undefined;
    if (options.cluster) this.#cluster = Promise.resolve(options.cluster);
  }

  /**
   * The shared connection, opened on first use.
   *
   * @example
   * ```ts
   * const cluster = await driver.cluster();
   * ```
   */
  cluster(): Promise<RbdCluster> {
    if (!this.#cluster) {
      const connecting = RbdCluster.connect(this.#options);
      // A failed connect is not cached: the next call tries again.
      connecting.catch(() => {
        if (this.#cluster === connecting) this.#cluster = undefined;
      });
      this.#cluster = connecting;
    }
    return this.#cluster;
  }

  /**
   * Closes the connection this driver opened (a shared one is left to its owner).
   *
   * @example
   * ```ts
   * await driver.close();
   * ```
   */
  async close(): Promise<void> {
    if (!this.#cluster || !this.#ownsCluster) return;
    const cluster = await this.#cluster.catch(() => undefined);
    this.#cluster = undefined;
    await cluster?.close();
  }

  /**
   * The same as `close()`, so the driver can be held with `await using`
   * and is closed when the scope ends, thrown out of or not.
   *
   * @example
   * ```ts
   * await using driver = new RbdDriver({ pool: 'vms', cephConf: '/etc/ceph/ceph.conf', user: 'nova' });
   * await driver.size('uuid_disk');
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #image(name: string, pool = this.pool): Promise<RbdImage> {
    return (await this.cluster()).pool(pool).image(name);
  }

  /**
   * nova's `parse_url`: `rbd://fsid/pool/image/snapshot`, percent-decoded.
   *
   * @example
   * ```ts
   * driver.parseUrl('rbd://fsid/images/id/snap').pool // 'images'
   * ```
   */
  parseUrl(url: string): RbdLocation {
    return parseRbdUrl(url);
  }

  /**
   * Whether an image-service location can be cloned here: a well-formed RBD
   * snapshot URL of this cluster (same fsid), a raw image, and a snapshot this
   * user can open read-only. Never throws.
   *
   * @example
   * ```ts
   * await driver.isCloneable({ url: 'rbd://fsid/images/id/snap' }, { disk_format: 'raw' }) // true
   * ```
   */
  async isCloneable(location: ImageLocation, imageMeta: ImageMeta): Promise<boolean> {
    try {
      const { fsid, pool, image, snapshot } = parseRbdUrl(location?.url);
      const cluster = await this.cluster();
      if (cluster.fsid !== fsid) return false;
      if (imageMeta?.disk_format !== 'raw') return false;
      return await cluster.pool(pool).image(image).exists(snapshot);
    } catch {
      return false;
    }
  }

  /**
   * Clones the snapshot a location names into `name` in `pool` (default: the
   * driver's pool). A permission failure is an {@link RbdPermissionError}.
   *
   * @example
   * ```ts
   * await driver.clone({ url: 'rbd://fsid/images/id/snap' }, 'uuid_disk');
   * ```
   */
  async clone(location: ImageLocation, name: string, pool = this.pool): Promise<void> {
    const { pool: parentPool, image, snapshot } = parseRbdUrl(location.url);
    checkRbdName(name, 'name');
    const cluster = await this.cluster();
    try {
      await cluster.pool(parentPool).image(image).clone(snapshot, cluster.pool(pool), name);
    } catch (error) {
      if (error instanceof RbdPermissionError) {
        throw new RbdPermissionError(`no permission to clone ${parentPool}/${image}@${snapshot} into ${pool}/${name}`,
          { ...error, operation: 'clone', cause: error },
        );
      }
      throw error;
    }
  }

  /**
   * Resizes a volume to `size` bytes. Grows always; shrinks only with
   * `allowShrink: true`, otherwise rejects with `InvalidArgumentError`
   * (`INVALID_ARGUMENT`) and leaves the volume unchanged.
   *
   * @example
   * ```ts
   * await driver.resize('uuid_disk', 20n * 2n ** 30n);
   * await driver.resize('uuid_disk', 2 ** 30, { allowShrink: true }); // a deliberate shrink
   * ```
   */
  async resize(name: string, size: number | bigint, options: RbdResizeOptions & { pool?: string } = {}): Promise<void> {
    const { pool = this.pool, allowShrink = false } = options;
    await (await this.#image(name, pool)).resize(size, { allowShrink });
  }

  /**
   * Size of a volume in bytes: a bigint, as every RBD size (64-bit in librbd).
   *
   * @example
   * ```ts
   * await driver.size('uuid_disk') // 10737418240n
   * ```
   */
  async size(name: string, pool = this.pool): Promise<bigint> {
    return (await this.#image(name, pool)).size();
  }

  /**
   * Whether a volume (or one of its snapshots) exists.
   *
   * @example
   * ```ts
   * await driver.exists('uuid_disk') // true
   * ```
   */
  async exists(name: string, pool = this.pool, snapshot?: string): Promise<boolean> {
    return (await this.#image(name, pool)).exists(snapshot);
  }

  /**
   * Imports a local file as a new volume (nova ran `rbd import --image-format=2`).
   *
   * @example
   * ```ts
   * await driver.importImage('/var/lib/nova/instances/_base/abc', 'uuid_disk');
   * ```
   */
  async importImage(
    path: string,
    name: string,
    options: RbdTransferOptions & { pool?: string } = {},
  ): Promise<RbdTransferResult> {
    const { pool = this.pool, ...rest } = options;
    return (await this.#image(name, pool)).import(path, rest);
  }

  /**
   * Creates volume `name` from a stream (nova's image-service download piped
   * straight into RBD, no local file): `RbdPool.importStream` in the
   * driver's pool, or `options.pool`. Crash-safe; removes the image on any failure.
   *
   * @example
   * ```ts
   * const { bytesWritten } = await driver.importStream(download, 'uuid_disk', { size, signal });
   * ```
   */
  async importStream(
    source: AsyncIterable<Uint8Array>,
    name: string,
    options: RbdStreamImportOptions & { pool?: string },
  ): Promise<RbdStreamImportResult> {
    const { pool = this.pool, ...rest } = options ?? ({} as never);
    return (await this.cluster()).pool(pool).importStream(name, source, rest);
  }

  /**
   * Creates volume `name` crash-safely through a writer of your own:
   * `RbdPool.createStaged` in the driver's pool, or `options.pool`. `fill`
   * writes a staging image, renamed to `name` once it resolves.
   *
   * @example
   * ```ts
   * await driver.createStaged('uuid_disk', (staging) => convertInto(`rbd:vms/${staging}`));
   * ```
   */
  async createStaged<T>(name: string, fill: (staging: string) => Promise<T>, options: { pool?: string } = {}): Promise<T> {
    return (await this.cluster()).pool(options.pool ?? this.pool).createStaged(name, fill);
  }

  /**
   * Removes what interrupted crash-safe creates of `name` left (its staging
   * images), each tried once: one still watched (a live writer, or a dead
   * one's until Ceph drops its watch, 30 s) is left for a later sweep.
   * Resolves with the names removed.
   *
   * @example
   * ```ts
   * const removed = await driver.sweepStaging('uuid_disk');
   * ```
   */
  async sweepStaging(name: string, pool = this.pool): Promise<string[]> {
    checkRbdName(name, 'image');
    return sweepStaging((await this.cluster()).pool(pool), name);
  }

  /**
   * The names of the volumes in the driver's pool (or `pool`).
   *
   * @example
   * ```ts
   * const names = await driver.listVolumes();
   * ```
   */
  async listVolumes(pool = this.pool): Promise<string[]> {
    return (await this.cluster()).pool(pool).list();
  }

  /**
   * Whether the driver's user authenticates with cephx (librados'
   * `auth_client_required` is not just `none`): then libvirt disk XML needs
   * the secret uuid (nova: `rbd_secret_uuid`).
   *
   * @example
   * ```ts
   * if ((await driver.authRequired()) && !secretUuid) throw new Error('set rbd.secretUuid');
   * ```
   */
  async authRequired(): Promise<boolean> {
    return (await this.cluster()).authRequired();
  }

  /**
   * Exports a volume (or a snapshot of it) to a new local file.
   *
   * @example
   * ```ts
   * await driver.exportImage('/tmp/disk.raw', 'uuid_disk');
   * ```
   */
  async exportImage(
    path: string,
    name: string,
    options: RbdTransferOptions & { pool?: string; snapshot?: string } = {},
  ): Promise<RbdTransferResult> {
    const { pool = this.pool, ...rest } = options;
    return (await this.#image(name, pool)).export(path, rest);
  }

  /**
   * Takes a snapshot; with `protect` it is protected unless it already is.
   *
   * @example
   * ```ts
   * await driver.createSnap('uuid_disk', 'snap', { protect: true });
   * ```
   */
  async createSnap(volume: string, name: string, options: { pool?: string; protect?: boolean } = {}): Promise<void> {
    const image = await this.#image(volume, options.pool);
    await image.createSnapshot(name);
    if (options.protect && !(await image.isSnapshotProtected(name))) await image.protectSnapshot(name);
  }

  /**
   * Protects a snapshot unless it already is (another client protecting it
   * at the same moment is not an error).
   *
   * @example
   * ```ts
   * await driver.protectSnap('uuid_disk', 'snap');
   * ```
   */
  async protectSnap(volume: string, name: string, options: { pool?: string } = {}): Promise<void> {
    const image = await this.#image(volume, options.pool);
    if (await image.isSnapshotProtected(name)) return;
    try {
      await image.protectSnapshot(name);
    } catch (error) {
      // EBUSY: protected meanwhile by someone else.
      if (!(error instanceof RbdBusyError && (await image.isSnapshotProtected(name)))) throw error;
    }
  }

  /**
   * Removes a snapshot as nova does: a protected one is skipped unless `force`
   * unprotects it; a missing one is ignored. With `ignoreErrors`, a protected
   * snapshot is removed anyway (and fails if it has children).
   *
   * @example
   * ```ts
   * await driver.removeSnap('uuid_disk', 'snap', { force: true });
   * ```
   */
  async removeSnap(
    volume: string,
    name: string,
    options: { pool?: string; ignoreErrors?: boolean; force?: boolean } = {},
  ): Promise<boolean> {
    const image = await this.#image(volume, options.pool);
    const snaps = await image.snapshots();
    if (!snaps.some((s) => s.name === name)) return false;
    if (await image.isSnapshotProtected(name)) {
      if (options.force) await image.unprotectSnapshot(name);
      else if (!options.ignoreErrors) return false;
    }
    await image.removeSnapshot(name);
    return true;
  }

  /**
   * Rolls a volume back to a snapshot; a missing snapshot is an {@link RbdNotFoundError}.
   *
   * @example
   * ```ts
   * await driver.rollbackToSnap('uuid_disk', 'nova-resize');
   * ```
   */
  async rollbackToSnap(volume: string, name: string, pool = this.pool): Promise<void> {
    const image = await this.#image(volume, pool);
    const snaps = await image.snapshots();
    if (!snaps.some((s) => s.name === name)) {
      throw new RbdNotFoundError(`snapshot ${name} of ${pool}/${volume} not found`, {
        operation: 'rollbackToSnap',
        pool,
        image: volume,
        snapshot: name,
      });
    }
    await image.rollbackToSnapshot(name);
  }

  /**
   * The parent a cloned volume was made from. A missing volume, or one with no
   * parent, is an {@link ImageUnacceptableError} ("no usable parent snapshot").
   *
   * @example
   * ```ts
   * const { pool, image, snapshot } = await driver.parentInfo('uuid_disk');
   * ```
   */
  async parentInfo(volume: string, pool = this.pool): Promise<RbdParentInfo> {
    const unacceptable = (cause?: unknown) =>
      new ImageUnacceptableError(`no usable parent snapshot for volume ${pool}/${volume}`, {
        operation: 'parentInfo',
        pool,
        image: volume,
        cause,
      });
    let parent: RbdParentInfo | null;
    try {
      parent = await (await this.#image(volume, pool)).parentInfo();
    } catch (error) {
      if (error instanceof RbdNotFoundError) throw unacceptable(error);
      throw error;
    }
    if (!parent) throw unacceptable();
    return parent;
  }

  /**
   * Makes a clone independent of its parent.
   *
   * @example
   * ```ts
   * await driver.flatten('uuid_disk');
   * ```
   */
  async flatten(volume: string, pool = this.pool): Promise<void> {
    await (await this.#image(volume, pool)).flatten();
  }

  /**
   * Capacity of the driver's pool (or `pool`) as nova's `get_pool_info` reports
   * it, from `ceph df`: `total` is the cluster's raw capacity, `free` the
   * pool's `max_avail` (replication accounted for), `used` the pool's
   * `bytes_used`, as bigints read exactly from the JSON (a cluster past 8 PiB
   * has counts above 2^53). A missing pool is an {@link RbdNotFoundError}.
   *
   * @example
   * ```ts
   * const { total, free, used } = await driver.getPoolInfo();
   * ```
   */
  async getPoolInfo(pool = this.pool): Promise<{
    /** Raw capacity of the cluster, bytes (`ceph df` `stats.total_bytes`). */
    total: bigint;
    /** Bytes clients can still write into the pool (`max_avail`). */
    free: bigint;
    /** Raw bytes the pool occupies (`bytes_used`). */
    used: bigint;
  }> {
    const usage = await (await this.cluster()).pool(pool).usage();
    return { total: usage.clusterTotal, free: usage.maxAvail, used: usage.bytesUsed };
  }

  /**
   * The monitors' hosts and ports for libvirt's network disk source.
   *
   * @example
   * ```ts
   * const mons = await driver.getMonAddrs(); // [{ host: '10.0.0.1', port: 6789, protocol: 'v1' }]
   * ```
   */
  async getMonAddrs(): Promise<MonitorAddress[]> {
    return (await this.cluster()).monitorAddresses();
  }

  /**
   * The cluster fsid.
   *
   * @example
   * ```ts
   * await driver.getFsid()
   * ```
   */
  async getFsid(): Promise<string> {
    return (await this.cluster()).fsid;
  }

  /**
   * Removes one volume, retrying while it is busy (watchers) or has
   * snapshots; nova's pending-resize snapshot is removed between attempts.
   * Resolves once removed (or already gone); rejects with the last error.
   *
   * @example
   * ```ts
   * await driver.destroyVolume('uuid_disk');
   * ```
   */
  async destroyVolume(name: string, pool = this.pool): Promise<void> {
    const retries = Math.max(1, this.#options.destroyRetries ?? 12);
    const interval = this.#options.destroyRetryIntervalMs ?? 5000;
    const image = await this.#image(name, pool);
    for (let attempt = 1; ; attempt++) {
      try {
        await image.remove();
        return;
      } catch (error) {
        if (error instanceof RbdNotFoundError) return;
        if (!(error instanceof ImageBackendError) || error.code !== 'RBD_BUSY' || attempt >= retries) throw error;
        if (error.errnoName === 'ENOTEMPTY') {
          await this.removeSnap(name, RESIZE_SNAPSHOT_NAME, { pool, ignoreErrors: true }).catch(() => false);
        }
      }
      await sleep(interval);
    }
  }

  /**
   * Removes an instance's rescue volume(s), `<uuid>_disk.rescue` (nova bug
   * 1475652: unrescue left the RBD rescue disk behind), with
   * {@link RbdDriver.destroyVolume}'s retries; what interrupted imports of it
   * left (staging images) goes too. Nothing else of the instance is touched.
   *
   * @example
   * ```ts
   * await driver.removeRescueVolumes(instance.uuid); // after unrescue
   * ```
   */
  async removeRescueVolumes(instanceUuid: string, pool = this.pool): Promise<CleanupReport> {
    checkRbdName(instanceUuid, 'image');
    const rescue = (name: string) => name.startsWith(instanceUuid) && name.endsWith('disk.rescue');
    const stagingOfRescue = (name: string) => {
      const at = name.lastIndexOf(STAGING_INFIX);
      return at > 0 && isStagingOf(name, name.slice(0, at)) && rescue(name.slice(0, at));
    };
    return this.cleanupVolumes((name) => rescue(name) || stagingOfRescue(name), pool);
  }

  /**
   * Destroys every volume of the pool that `filter` selects (nova's
   * `cleanup_volumes`), each with {@link RbdDriver.destroyVolume}'s retries,
   * and reports what it removed and what it could not.
   *
   * @example
   * ```ts
   * const { failed } = await driver.cleanupVolumes((name) => name.startsWith(instance.uuid));
   * ```
   */
  async cleanupVolumes(filter: (name: string) => boolean, pool = this.pool): Promise<CleanupReport> {
    const names = (await (await this.cluster()).pool(pool).list()).filter(filter);
    const report: CleanupReport = { removed: [], failed: [] };
    await Promise.all(
      names.map(async (name) => {
        try {
          await this.destroyVolume(name, pool);
          report.removed.push(name);
        } catch (error) {
          report.failed.push({ name, error: error as ImageBackendError });
        }
      }),
    );
    return report;
  }
}
