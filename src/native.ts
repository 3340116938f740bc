/**
 * The only file that touches the compiled addon: it loads the binary with
 * node-gyp-build (`build/Release` when a source build made one, else the
 * shipped `prebuilds/linux-x64` binary) and gives it TypeScript types. When the
 * binary cannot load, one {@link NativeLoadError} names the cause and the fix.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { NativeLoadError } from './errors.js';

/** Opaque, type-tagged native handle of a cluster connection. */
export interface NativeClusterHandle {
  readonly __brand: 'RbdClusterHandle';
}

/** Opaque, type-tagged native handle of an RBD image open for writing (see native/rbd/writer.cc). */
export interface NativeWriterHandle {
  readonly __brand: 'RbdWriterHandle';
}

/** A cancellation flag shared with a worker thread. */
export interface NativeAbortHandle {
  abort(): void;
  readonly aborted: boolean;
}

export interface NativeConnectOptions {
  cephConf?: string;
  user?: string;
  keyring?: string;
  key?: string;
  connectTimeoutMs?: number;
  opTimeoutMs?: number;
  options?: Record<string, string>;
}


export interface NativeTransferOptions {
  chunkSize?: number;
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
  abort?: NativeAbortHandle;
}




// bigints always (native/common/args.h BigIntFromUint64): RBD sizes are uint64.
export interface NativeTransferResult {
  size: bigint;
  bytesWritten: bigint;
}

// The RBD calls' plain objects are defined once, under their public names.
export type {
  RbdLayout as NativeLayout,
  RbdImageStat as NativeImageStat,
  RbdParentInfo as NativeParentInfo,
  RbdSnapshotInfo as NativeSnapInfo,
} from './rbd/types.js';
import type { LibrbdVersion } from './rbd/types.js';
import type {
  RbdLayout as NativeLayout,
  RbdImageStat as NativeImageStat,
  RbdParentInfo as NativeParentInfo,
  RbdSnapshotInfo as NativeSnapInfo,
} from './rbd/types.js';

type H = NativeClusterHandle;

/** The RBD half of the addon: librbd/librados mapped one to one (see native/rbd). */
export interface NativeRbd {
  rbdConnect(options: NativeConnectOptions): Promise<H>;
  rbdClose(h: H): Promise<void>;
  /** Stops running transfers, waits for operations, shuts every connection down; sync, for process 'exit'. */
  rbdShutdownAll(): void;
  rbdFsid(h: H): string;
  /** rbd_version of the librbd this process loaded, read at connect. */
  rbdLibrbdVersion(h: H): LibrbdVersion;
  /** rados_conf_get: the value of a configuration option this connection runs with. */
  rbdConfGet(h: H, option: string): string;
  rbdMonCommand(h: H, command: string): Promise<{ output: string; status: string }>;
  // uint64 counters: a Number up to 2^53 - 1, a BigInt above (native/common/args.h FromUint64).
  rbdClusterStat(h: H): Promise<{ total: number | bigint; used: number | bigint; free: number | bigint; objects: number | bigint }>;
  rbdPoolStat(h: H, pool: string): Promise<{ bytes: number | bigint; objects: number | bigint }>;
  rbdList(h: H, pool: string): Promise<string[]>;
  rbdExists(h: H, pool: string, image: string, snapshot?: string): Promise<boolean>;
  // Sizes in: a safe-integer number or a bigint below 2^64 (native/common/args.h ToUint64); out: always a bigint.
  rbdCreate(h: H, pool: string, image: string, size: number | bigint, layout?: NativeLayout): Promise<void>;
  rbdRemove(h: H, pool: string, image: string): Promise<void>;
  rbdResize(h: H, pool: string, image: string, size: number | bigint, options?: { allowShrink?: boolean }): Promise<void>;
  rbdStat(h: H, pool: string, image: string, snapshot?: string): Promise<NativeImageStat>;
  /** Size of the image head (two OSD round trips; no open). */
  rbdSize(h: H, pool: string, image: string, snapshot?: string): Promise<bigint>;
  rbdClone(
    h: H,
    parentPool: string,
    parentImage: string,
    parentSnapshot: string,
    pool: string,
    image: string,
    layout?: NativeLayout,
  ): Promise<void>;
  rbdFlatten(h: H, pool: string, image: string): Promise<void>;
  /** rbd_rename within one pool; EEXIST when `newName` is taken. */
  rbdRename(h: H, pool: string, image: string, newName: string): Promise<void>;
  /** rbd_open for writing; the writer holds the connection open until rbdWriterClose. */
  rbdWriterOpen(h: H, pool: string, image: string): Promise<NativeWriterHandle>;
  /**
   * rbd_aio_write of each non-zero 64 KiB run of `bytes` at `offset` (all of it
   * with `skipZeros: false`); `bytes` must not change until the promise settles.
   */
  rbdWriterWrite(
    w: NativeWriterHandle,
    offset: number,
    bytes: Uint8Array,
    options?: { skipZeros?: boolean },
  ): Promise<{ written: number; skipped: number }>;
  /** Waits for the writes in flight, rbd_flush, rbd_close. Idempotent. */
  rbdWriterClose(w: NativeWriterHandle): Promise<void>;
  rbdParentInfo(h: H, pool: string, image: string, snapshot?: string): Promise<NativeParentInfo | null>;
  rbdSnapCreate(h: H, pool: string, image: string, snapshot: string): Promise<void>;
  rbdSnapRemove(h: H, pool: string, image: string, snapshot: string): Promise<void>;
  rbdSnapProtect(h: H, pool: string, image: string, snapshot: string): Promise<void>;
  rbdSnapUnprotect(h: H, pool: string, image: string, snapshot: string): Promise<void>;
  rbdSnapRollback(h: H, pool: string, image: string, snapshot: string): Promise<void>;
  rbdSnapIsProtected(h: H, pool: string, image: string, snapshot: string): Promise<boolean>;
  rbdSnapList(h: H, pool: string, image: string): Promise<NativeSnapInfo[]>;
  rbdImport(
    h: H,
    pool: string,
    image: string,
    path: string,
    options?: NativeTransferOptions & NativeLayout,
  ): Promise<NativeTransferResult>;
  rbdExport(
    h: H,
    pool: string,
    image: string,
    path: string,
    options?: NativeTransferOptions & { snapshot?: string; overwrite?: boolean },
  ): Promise<NativeTransferResult>;
  AbortHandle: new () => NativeAbortHandle;
}

export interface NativeRangeOptions {
  offset?: number;
  length?: number;
}

export interface NativeWipeOptions extends NativeRangeOptions {
  onProgress?: (done: number, total: number) => void;
  abort?: NativeAbortHandle;
}

export interface NativeCopyOptions {
  dstMode?: 'create' | 'existing';
  sparse?: boolean;
  reflink?: 'auto' | 'always' | 'never';
  chunkSize?: number;
  onProgress?: (done: number, total: number) => void;
  abort?: NativeAbortHandle;
}

export interface NativeCopyResult {
  size: number;
  bytesCopied: number;
  bytesSkipped: number;
  reflinked: boolean;
}

/** The local-disk half of the addon: block devices and raw files (see native/blockdev). */
export interface NativeBlockdev {
  blockdevSize(path: string): Promise<number>;
  blockdevZero(path: string, options?: NativeWipeOptions): Promise<{ bytes: number }>;
  blockdevDiscard(path: string, options?: NativeRangeOptions): Promise<{ bytes: number }>;
  blockdevOverwriteRandom(path: string, options?: NativeWipeOptions): Promise<{ bytes: number }>;
  blockdevFallocate(path: string, options: { size: number; offset?: number; keepSize?: boolean }): Promise<void>;
  copyRaw(src: string, dst: string, options?: NativeCopyOptions): Promise<NativeCopyResult>;
}

/** What `imageInspect` resolves with (see native/image/inspect_worker.cc). */
export interface NativeImageInfo {
  format: string;
  virtualSize: number | bigint;
  actualSize: number | bigint;
  fileSize: number | bigint;
  clusterSize?: number | bigint;
  backingFile?: string;
  fullBackingFile?: string;
  backingFormat?: string;
  dataFile?: string;
  dataFileRaw?: boolean;
  encrypted: boolean;
  dirty: boolean;
  corrupt: boolean;
  compressionType?: string;
  extendedL2?: boolean;
  contentHints: string[];
  formatSpecific: { type: string; data: Record<string, unknown> };
  safety: { safe: boolean; reasons: string[] };
  /** Present when followBackingChain was asked for. */
  chain?: (NativeImageInfo & { path: string })[];
}

export interface NativeInspectOptions {
  followBackingChain?: boolean | { maxDepth?: number };
}

export interface NativeOverlayOptions {
  backingFile: string;
  backingFormat?: string;
  size?: number;
  clusterSize?: number;
  extendedL2?: boolean;
}

/** The image half of the addon: header inspection and qcow2 overlays (see native/image). */
export interface NativeImage {
  imageInspect(path: string, options?: NativeInspectOptions): Promise<NativeImageInfo>;
  qcow2CreateOverlay(
    path: string,
    options: NativeOverlayOptions,
  ): Promise<{ path: string; size: number | bigint; backingFormat: string }>;
}

/** What one liblvm2cmd command returned (see native/lvm). */
export interface NativeLvmResult {
  /** lvm2_run's return: 1 succeeded, 2 no such command, 3 invalid parameters, 4 init failed, 5 processing failed. */
  status: number;
  /** [level, text] of each message lvm2_log_fn received at LVM2_LOG_PRINT (4) or more important, in order. */
  messages: Array<[number, string]>;
}

/** The lvm2 half of the addon: liblvm2cmd on one dedicated thread (see native/lvm). */
export interface NativeLvm {
  /** lvm2_run(handle, cmdline); calls run one at a time, in order. */
  lvm2Run(cmdline: string): Promise<NativeLvmResult>;
}

/** Whole-file fcntl locks that interoperate with nova's (see native/fsutil/lock.cc). */
export interface NativeFileLock {
  /**
   * Opens (creating) `path` and tries once, without waiting, to take an OFD
   * lock over the whole file: F_RDLCK when `shared`, else F_WRLCK. Resolves
   * the descriptor (close it to release the lock) or -1 when another holder
   * conflicts.
   */
  fileLockTry(path: string, shared: boolean): Promise<number>;
}

export type NativeAddon = NativeRbd & NativeBlockdev & NativeImage & NativeLvm & NativeFileLock;

/** The package root: `src/..` when run from sources, `dist/..` when installed. */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

let loaded: NativeAddon | undefined;

/** Loads the addon once; throws {@link NativeLoadError} with cause and fix. */
export function native(): NativeAddon {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  try {
    const load = require('node-gyp-build') as (dir: string) => NativeAddon;
    loaded = load(packageRoot);
    return loaded;
  } catch (error) {
    throw explainLoadFailure(error);
  }
}

/** Turns a loader failure into one error naming the cause and the fix (exported for tests). */
export function explainLoadFailure(error: unknown): NativeLoadError {
  const text = error instanceof Error ? error.message : String(error);
  let cause: string;
  let fix: string;
  if (/librbd|librados|libceph/.test(text) && /cannot open shared object/.test(text)) {
    cause = 'the Ceph client libraries librbd/librados are not installed';
    fix = 'install them (Debian/Ubuntu: apt-get install librbd1 librados2), or librbd-dev librados-dev to build';
  } else if (/liblvm2cmd/.test(text) && /cannot open shared object/.test(text)) {
    cause = 'the lvm2 command library liblvm2cmd is not installed';
    fix = 'install it (Debian/Ubuntu: apt-get install liblvm2cmd2.03), or liblvm2-dev to build';
  } else if (/NODE_MODULE_VERSION|different Node\.js version|invalid ELF|wrong ELF class/.test(text)) {
    cause = 'the binary was built for another Node.js ABI or architecture';
    fix = 'rebuild it for this Node.js with `npm rebuild imagebackend` (needs librbd-dev, librados-dev, g++, make, python3)';
  } else if (/No native build was found/.test(text)) {
    cause = 'the addon was never built and no prebuild matches this platform';
    fix = 'build it with `npm run build:native` (needs librbd-dev, librados-dev, g++, make, python3)';
  } else {
    cause = 'the binary failed to load';
    fix = 'rebuild it with `npm rebuild imagebackend`; the underlying error is attached as cause';
  }
  return new NativeLoadError(`imagebackend native addon: ${cause}. Fix: ${fix}. (${text})`, {
    cause: error,
  });
}
