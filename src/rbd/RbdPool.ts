import { rbdCall } from './errors.js';
import { checkRbdName } from './names.js';
import { importStream, type RbdStreamImportOptions, type RbdStreamImportResult } from './importStream.js';
import { RbdImage } from './RbdImage.js';
import type { RbdCluster } from './RbdCluster.js';

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

  /** @throws {@link InvalidArgumentError} (`INVALID_ARGUMENT`) when `name` is not an acceptable pool name (`checkRbdName` in src/rbd/names.ts). */
  constructor(cluster: RbdCluster, name: string) {
    this.cluster = cluster;
    this.name = checkRbdName('pool', name);
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
  async stats(): Promise<{
    /** Bytes stored in the pool (librados `num_bytes`). */
    bytes: number;
    /** Number of RADOS objects in the pool. */
    objects: number;
  }> {
    const { addon, handle } = this.cluster.native;
    return rbdCall('poolStats', () => addon.rbdPoolStat(handle, this.name), this.cluster.operationBoundMs);
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
}
