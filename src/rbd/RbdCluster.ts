import { invalidArgument } from '../errors.js';
import { native, type NativeAddon, type NativeClusterHandle } from '../native.js';
import { rbdCall, toRbdError } from './errors.js';
import { parseMonMap, type MonitorAddress } from './monmap.js';
import { RbdPool } from './RbdPool.js';
import { SnapshotOpenGate } from './SnapshotOpenGate.js';
import type { LibrbdVersion } from './types.js';

export type { LibrbdVersion } from './types.js';

/** How to reach a Ceph cluster. */
export interface RbdConnectOptions {
  /** Path of ceph.conf; librados defaults apply when absent. */
  cephConf?: string;
  /** Ceph user id without `client.` (nova: `rbd_user`). Default `admin`. */
  user?: string;
  /** Keyring file of that user; else the one ceph.conf names. */
  keyring?: string;
  /** The user's secret key itself, instead of a keyring. */
  key?: string;
  /** Give up connecting after this long (nova: `rbd_connect_timeout`, 5 s). Default 5000. */
  connectTimeoutMs?: number;
  /**
   * Fail a monitor or OSD operation after this long instead of waiting for a
   * dead cluster forever (`rados_osd_op_timeout`, `rados_mon_op_timeout`). 0 waits. Default 30000.
   */
  opTimeoutMs?: number;
  /** Further librados configuration options, e.g. `{ log_to_stderr: 'false' }`. */
  options?: Record<string, string>;
}

/**
 * Cluster-wide usage. bigints: librados's counters are 64-bit and a large
 * cluster passes 2^53 bytes (8 PiB), where a number would silently round.
 */
export interface RbdClusterStats {
  /** Raw capacity of the cluster, bytes (librados `kb` × 1024). */
  total: bigint;
  /** Raw bytes used, replicas included (librados `kb_used` × 1024). */
  used: bigint;
  /** Raw bytes available (librados `kb_avail` × 1024). */
  free: bigint;
  /** Number of RADOS objects in the cluster. */
  objects: bigint;
}

/**
 * One connection to a Ceph cluster, shared by every operation made through it
 * (nova opens a new one per call; reuse is what makes this fast). Close it
 * with {@link RbdCluster.close}; the process may also exit with it open.
 *
 * @example
 * ```ts
 * const cluster = await RbdCluster.connect({ cephConf: '/etc/ceph/ceph.conf', user: 'nova' });
 * const size = await cluster.pool('vms').image('disk').size();
 * await cluster.close();
 * ```
 */
export class RbdCluster {
  readonly #addon: NativeAddon;
  readonly #handle: NativeClusterHandle;
  readonly #fsid: string;
  readonly #librbdVersion: Readonly<LibrbdVersion>;
  readonly #snapshotOpenGate: SnapshotOpenGate | undefined;
  readonly #opTimeoutMs: number;
  #closing: Promise<void> | undefined;

  private constructor(addon: NativeAddon, handle: NativeClusterHandle, opTimeoutMs: number) {
    this.#addon = addon;
    this.#handle = handle;
    this.#fsid = addon.rbdFsid(handle);
    this.#librbdVersion = Object.freeze(addon.rbdLibrbdVersion(handle));
    this.#snapshotOpenGate = hasSnapshotOpenRace(this.#librbdVersion) ? new SnapshotOpenGate() : undefined;
    this.#opTimeoutMs = opTimeoutMs;
  }

  /**
   * Connects (off the JS thread) and returns the shared connection.
   *
   * @example
   * ```ts
   * const cluster = await RbdCluster.connect({ cephConf, user: 'compute', keyring, connectTimeoutMs: 5000 });
   * ```
   */
  static async connect(options: RbdConnectOptions = {}): Promise<RbdCluster> {
    if (typeof options !== 'object' || options === null) throw invalidArgument('an options object', 'options', options);
    const addon = native();
    shutdownOnExit(addon);
    const opTimeoutMs = options.opTimeoutMs ?? 30000;
    const handle = await rbdCall('connect', () =>
      addon.rbdConnect({ ...options, connectTimeoutMs: options.connectTimeoutMs ?? 5000, opTimeoutMs }),
    );
    return new RbdCluster(addon, handle, opTimeoutMs);
  }

  /** @internal The native addon and handle, for the pool and image objects. */
  get native(): { addon: NativeAddon; handle: NativeClusterHandle } {
    return { addon: this.#addon, handle: this.#handle };
  }

  /**
   * @internal The bound of a metadata operation (the op timeout, or undefined
   * when it is 0: wait). Calls whose time grows with the data (import, export,
   * remove, resize, flatten, rollback) are bounded by librados' per-request
   * timeouts only.
   */
  get operationBoundMs(): number | undefined {
    return this.#opTimeoutMs > 0 ? this.#opTimeoutMs : undefined;
  }

  /** True once {@link RbdCluster.close} was called. */
  get closed(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * The cluster's fsid, read once at connect.
   *
   * @example
   * ```ts
   * cluster.fsid // 'f3b1...'
   * ```
   */
  get fsid(): string {
    return this.#fsid;
  }

  /**
   * The API version of the librbd this process runs with, read at connect
   * (`rbd_version`): `minor` is the Ceph release (16 Pacific, 18 Reef).
   *
   * @example
   * ```ts
   * cluster.librbdVersion // { major: 1, minor: 16, extra: 0 } with Debian 12's librbd1 16.2.15
   * ```
   */
  get librbdVersion(): Readonly<LibrbdVersion> {
    return this.#librbdVersion;
  }

  /**
   * @internal Set on the librbd releases with the snapshot-open/clone race
   * ({@link hasSnapshotOpenRace}): snapshot opens and clones made through
   * this connection then never overlap. Undefined elsewhere.
   */
  get snapshotOpenGate(): SnapshotOpenGate | undefined {
    return this.#snapshotOpenGate;
  }

  /**
   * A pool of this cluster; no I/O until an operation runs.
   *
   * @example
   * ```ts
   * const images = await cluster.pool('images').list();
   * ```
   */
  pool(name: string): RbdPool {
    return new RbdPool(this, name);
  }

  /**
   * The monitors' addresses from the current mon map.
   *
   * @example
   * ```ts
   * await cluster.monitorAddresses() // [{ host: '10.0.0.1', port: 6789, protocol: 'v1' }]
   * ```
   */
  async monitorAddresses(): Promise<MonitorAddress[]> {
    const { output } = await this.monCommand({ prefix: 'mon dump', format: 'json' });
    return parseMonMap(output);
  }

  /**
   * Sends a monitor command (a JSON object as the `ceph` CLI would) and returns its output.
   *
   * @example
   * ```ts
   * const { output } = await cluster.monCommand({ prefix: 'osd pool ls', format: 'json' });
   * ```
   */
  async monCommand(command: Record<string, unknown>): Promise<{
    /** The command's output buffer, e.g. the JSON asked for with `format: 'json'`. */
    output: string;
    /** The monitor's status string (often empty on success). */
    status: string;
  }> {
    return rbdCall(
      'monCommand',
      () => this.#addon.rbdMonCommand(this.#handle, JSON.stringify(command)),
      this.operationBoundMs,
    );
  }

  /**
   * The value of a librados configuration option this connection runs with
   * (`rados_conf_get`): what ceph.conf, the defaults and
   * {@link RbdConnectOptions.options} made of it.
   *
   * @example
   * ```ts
   * cluster.configValue('auth_client_required') // 'cephx, none'
   * ```
   */
  configValue(option: string): string {
    if (typeof option !== 'string' || option === '') throw invalidArgument('a non-empty string', 'option', option);
    try {
      return this.#addon.rbdConfGet(this.#handle, option);
    } catch (error) {
      throw toRbdError(error, 'configValue');
    }
  }

  /**
   * Whether this client authenticates with cephx: librados'
   * `auth_client_required` names a method other than `none`. Then qemu needs
   * the key too, so libvirt disk XML must carry an `<auth>` with the secret
   * uuid (an RBD disk without it on a cephx cluster hangs `virsh start`).
   *
   * @example
   * ```ts
   * if (cluster.authRequired() && !secretUuid) throw new Error('rbd_secret_uuid is required');
   * ```
   */
  authRequired(): boolean {
    const methods = this.configValue('auth_client_required')
      .split(/[\s,;]+/)
      .filter((m) => m !== '');
    return methods.some((m) => m !== 'none');
  }

  /**
   * Cluster usage in bytes (nova's `get_pool_info`).
   *
   * @example
   * ```ts
   * const { total, free, used } = await cluster.stats();
   * ```
   */
  async stats(): Promise<RbdClusterStats> {
    const raw = await rbdCall('clusterStats', () => this.#addon.rbdClusterStat(this.#handle), this.operationBoundMs);
    return { total: BigInt(raw.total), used: BigInt(raw.used), free: BigInt(raw.free), objects: BigInt(raw.objects) };
  }

  /**
   * Closes the connection after the operations in flight finish. Safe to call
   * more than once: every call returns the same promise.
   *
   * @example
   * ```ts
   * await cluster.close();
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= rbdCall('close', () => this.#addon.rbdClose(this.#handle));
    return this.#closing;
  }

  /**
   * The same as `close()`, so the connection can be held with `await using`
   * and is closed when the scope ends, thrown out of or not.
   *
   * @example
   * ```ts
   * await using cluster = await RbdCluster.connect({ cephConf: '/etc/ceph/ceph.conf', user: 'nova' });
   * await cluster.pool('vms').image('disk').size();
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * @internal Whether a librbd release needs the snapshot-open/clone workaround: opening
 * an image at a snapshot while `rbd_clone3` runs on the same client has
 * aborted the process with librbd 16.2 (Pacific; README, "Known issues").
 * Every release before Reef (API 1.18) is taken to have it: the race was seen
 * on 16.2 only, and no release before 18 was checked. Reef is taken to be
 * free of it on the runs measured (README), not on a fix we can point to.
 *
 * @example
 * ```ts
 * hasSnapshotOpenRace(cluster.librbdVersion) // true with librbd 1.16 (Ceph 16.2)
 * ```
 */
export function hasSnapshotOpenRace(version: LibrbdVersion): boolean {
  return version.major < 1 || (version.major === 1 && version.minor < FIRST_RELEASE_WITHOUT_RACE);
}

/** The librbd API minor version (= Ceph release) from which the workaround is off: 18, Reef. */
const FIRST_RELEASE_WITHOUT_RACE = 18;

let exitHookInstalled = false;

// On process exit, running imports/exports stop (each removes what it
// created) and every connection shuts down, while the C++ runtime is still
// whole: librados threads running into exit() can crash or leave work half-done.
function shutdownOnExit(addon: NativeAddon): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => addon.rbdShutdownAll());
}
