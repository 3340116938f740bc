import { RbdError, RbdNotFoundError, invalidArgument } from '../errors.js';
import { checkRbdName } from '../names.js';
import { parseJsonExact } from './cephJson.js';
import { rbdCall } from './errors.js';
import { importStream, type RbdStreamImportOptions, type RbdStreamImportResult } from './importStream.js';
import { RbdImage } from './RbdImage.js';
import type { RbdCluster } from './RbdCluster.js';
import { commitStaged, discardStaged, nameTaken, stagingName, sweepStaging } from './staging.js';

/** What a pool stores; bigints, as librados's 64-bit counters can pass 2^53. */
export interface RbdPoolStats {
  /** Bytes stored in the pool (librados `num_bytes`). */
  bytes: bigint;
  /** Number of RADOS objects in the pool. */
  objects: bigint;
}

/**
 * A pool's own figures as `ceph df` reports them (the mon command `df`):
 * what the scheduler should see, replication and the fullest OSD included.
 * Counts are bigints, read exactly from the JSON: they are 64-bit in Ceph and
 * a cluster past 8 PiB has byte counts above 2^53, where a number rounds.
 */
export interface RbdPoolUsage {
  /** Bytes stored by clients in the pool, before replication (`stored`). */
  stored: bigint;
  /** Raw bytes the pool occupies, replicas included (`bytes_used`). */
  bytesUsed: bigint;
  /**
   * Bytes clients can still write into the pool (`max_avail`): the free space
   * of the fullest OSD the pool maps to, scaled, divided by the replica count
   * (or by k/(k+m) for erasure coding), and short of the full ratio.
   */
  maxAvail: bigint;
  /** RADOS objects in the pool. */
  objects: bigint;
  /** `percent_used`: bytes used over used + available, 0–1. */
  percentUsed: number;
  /** Raw capacity of the whole cluster (`stats.total_bytes`), bytes. */
  clusterTotal: bigint;
}

/**
 * A pool of a connected cluster. Cheap to create; the native side keeps one
 * io-context per pool for the life of the connection.
 *
 * @example
 * ```ts
 * const vms = cluster.pool('vms');
 * for (const name of await vms.list()) console.log(name);
 * ```
 */
export class RbdPool {
  /** The connection this pool is reached through. */
  readonly cluster: RbdCluster;
  /** The pool's name, e.g. `vms`. */
  readonly name: string;

  /**
   * @throws {@link InvalidArgumentError} (`INVALID_ARGUMENT`) when `name` is not
   * an acceptable pool name (see `checkRbdName`).
   */
  constructor(cluster: RbdCluster, name: string) {
    this.cluster = cluster;
    this.name = checkRbdName(name, 'pool', 'a pool name');
  }

  /**
   * An image of this pool; no I/O until an operation runs.
   *
   * @example
   * ```ts
   * await cluster.pool('vms').image('uuid_disk').size();
   * ```
   */
  image(name: string): RbdImage {
    return new RbdImage(this, name);
  }

  /**
   * Names of the images in the pool.
   *
   * @example
   * ```ts
   * const names = await cluster.pool('vms').list();
   * ```
   */
  async list(): Promise<string[]> {
    const { addon, handle } = this.cluster.native;
    return rbdCall('list', () => addon.rbdList(handle, this.name), this.cluster.operationBoundMs);
  }

  /**
   * Bytes and objects stored in the pool.
   *
   * @example
   * ```ts
   * const { bytes } = await cluster.pool('vms').stats();
   * ```
   */
  async stats(): Promise<RbdPoolStats> {
    const { addon, handle } = this.cluster.native;
    const raw = await rbdCall('poolStats', () => addon.rbdPoolStat(handle, this.name), this.cluster.operationBoundMs);
    return { bytes: BigInt(raw.bytes), objects: BigInt(raw.objects) };
  }

  /**
   * Creates image `name` of `options.size` bytes from a stream (an image
   * service download, a decompressor...): chunks are written with several
   * aio writes in flight and all-zero 64 KiB runs are skipped. Crash-safe:
   * the data goes into a staging image that is renamed to `name` only when
   * complete, so a killed process never leaves a partial image under `name`
   * (the next import sweeps the leftover). On any failure (the cluster, the
   * source throwing or yielding more or fewer bytes than `size`, an abort)
   * the image is removed and nothing exists under `name`. An existing `name`
   * is refused with {@link RbdExistsError} before anything is written.
   *
   * @example
   * ```ts
   * const response = await fetch(url);
   * const { bytesWritten, bytesSkipped } = await cluster.pool('vms').importStream('uuid_disk', response.body!, {
   *   size: Number(response.headers.get('content-length')),
   *   signal,
   * });
   * ```
   */
  importStream(
    name: string,
    source: AsyncIterable<Uint8Array>,
    options: RbdStreamImportOptions,
  ): Promise<RbdStreamImportResult> {
    return importStream(this, name, source, options);
  }

  /**
   * Creates image `name` crash-safely with a writer of your own (qemu-img
   * converting into `rbd:<pool>/<staging>`, say): `fill` is handed a
   * staging name (`<name>.ib-staging-<hex>`) to create and write, and the
   * staging image is renamed to `name` only once `fill` resolves, so no
   * partial image is ever seen under `name`. What `fill` left under the
   * staging name is removed when it fails; leftovers of earlier, killed
   * attempts are swept first (once Ceph has dropped their watch). An
   * existing `name` is refused with {@link RbdExistsError} before `fill`
   * runs, and so is a `name` another writer committed first.
   *
   * @example
   * ```ts
   * await cluster.pool('vms').createStaged('_base~9e88', async (staging) => {
   *   await qemu.convert(src, `rbd:vms/${staging}`, { srcFormat: 'qcow2', dstFormat: 'raw' });
   * });
   * ```
   */
  async createStaged<T>(name: string, fill: (staging: string) => Promise<T>): Promise<T> {
    checkRbdName(name, 'image');
    if (typeof fill !== 'function') throw invalidArgument('a function', 'fill', fill);
    await sweepStaging(this, name);
    if (await this.image(name).exists()) throw nameTaken(this, name, 'createStaged');
    const staging = stagingName(name);
    let result: T;
    try {
      result = await fill(staging);
    } catch (error) {
      await discardStaged(this, staging);
      throw error;
    }
    await commitStaged(this, staging, name, 'createStaged');
    return result;
  }

  /**
   * The pool's own usage figures from the monitors (`ceph df`): free space
   * that accounts for replication (`maxAvail`), not the raw cluster bytes
   * (with 3 replicas those are about 3x too high). A missing pool is an
   * {@link RbdNotFoundError}.
   *
   * @example
   * ```ts
   * const { maxAvail, stored } = await cluster.pool('vms').usage();
   * ```
   */
  async usage(): Promise<RbdPoolUsage> {
    const { output } = await this.cluster.monCommand({ prefix: 'df', format: 'json' });
    let report: DfReport;
    try {
      report = parseJsonExact(output) as DfReport;
    } catch (error) {
      throw new RbdError(`usage: the monitors answered 'df' with no JSON`, {
        operation: 'usage',
        pool: this.name,
        cause: error,
      });
    }
    const pool = report.pools?.find((p) => p.name === this.name);
    if (!pool?.stats || report.stats?.total_bytes === undefined) {
      throw new RbdNotFoundError(`usage failed: pool ${this.name} not found`, {
        operation: 'usage',
        pool: this.name,
        errno: -2,
        errnoName: 'ENOENT',
        syscall: 'rados_mon_command',
      });
    }
    const s = pool.stats;
    return {
      stored: count(s.stored ?? s.bytes_used),
      bytesUsed: count(s.bytes_used),
      maxAvail: count(s.max_avail),
      objects: count(s.objects),
      percentUsed: Number(s.percent_used ?? 0),
      clusterTotal: count(report.stats.total_bytes),
    };
  }
}

// A count as parseJsonExact gives it: a bigint for an integer; a whole
// number written as a float would be a number; absent is 0.
function count(value: bigint | number | undefined): bigint {
  if (typeof value === 'bigint') return value;
  return typeof value === 'number' && Number.isFinite(value) ? BigInt(Math.trunc(value)) : 0n;
}

// The parts of the mon command `df` (format json) read above, as parseJsonExact returns them.
interface DfReport {
  stats?: { total_bytes?: bigint | number };
  pools?: Array<{
    name: string;
    stats?: {
      stored?: bigint | number;
      bytes_used?: bigint | number;
      max_avail?: bigint | number;
      objects?: bigint | number;
      percent_used?: bigint | number;
    };
  }>;
}
