import { checkRbdName } from '../names.js';
import { rbdCall } from './errors.js';
import { RbdImage } from './RbdImage.js';
import type { RbdCluster } from './RbdCluster.js';

/** What a pool stores; bigints, as librados's 64-bit counters can pass 2^53. */
export interface RbdPoolStats {
  /** Bytes stored in the pool (librados `num_bytes`). */
  bytes: bigint;
  /** Number of RADOS objects in the pool. */
  objects: bigint;
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

  constructor(cluster: RbdCluster, name: string) {
    checkRbdName(name, 'pool', 'a pool name');
    this.cluster = cluster;
    this.name = name;
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
    return rbdCall('list', () => addon.rbdList(handle, this.name));
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
    const raw = await rbdCall('poolStats', () => addon.rbdPoolStat(handle, this.name));
    return { bytes: BigInt(raw.bytes), objects: BigInt(raw.objects) };
  }
}
