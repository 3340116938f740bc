/**
 * Native image inspection: reads an image's header in-process (no qemu-img
 * fork) and reports what `qemu-img info` would, plus a safety verdict in the
 * spirit of nova's format_inspector. Headers are untrusted: the native parser
 * bounds every read and checks every offset; a malformed header rejects with
 * {@link ImageInvalidError}.
 */
import { ImageInvalidError, ImageUnsafeError, invalidArgument } from '../errors.js';
import { native, type NativeImageInfo } from '../native.js';
import { callNative } from '../fromNative.js';
import { probeWithQemu, type QemuProbeOptions } from './qemuProbe.js';
import { checkVmdkAllowedTypes, vmdkTypeReasons } from './vmdkTypes.js';

export { DEFAULT_VMDK_ALLOWED_TYPES } from './vmdkTypes.js';
export type { QemuProbeOptions } from './qemuProbe.js';

/**
 * qemu's format names; `raw` also covers what qemu does not know (iso, gpt...).
 * `parallels`, `bochs`, `cloop` and `dmg` are formats qemu reads and nova
 * refuses: recognised so they never pass for raw, and always unsafe.
 */
export type ImageFormat =
  | 'raw'
  | 'qcow2'
  | 'qed'
  | 'vmdk'
  | 'vpc'
  | 'vhdx'
  | 'vdi'
  | 'luks'
  | 'parallels'
  | 'bochs'
  | 'cloop'
  | 'dmg';

/** Whether an image may be used as it is, and every reason when it may not (see README "Safety"). */
export interface ImageSafety {
  /** False when the image refers to other files, uses unknown features or is ambiguous. */
  safe: boolean;
  /** One stable sentence per concern, e.g. `backing file: 'base.raw'`. */
  reasons: string[];
}

/**
 * What {@link inspect} read from an image's header: qemu-img info's fields,
 * natively and without running qemu-img.
 */
export interface ImageInfo {
  /** The format the header shows, by qemu's name; `raw` when no known header is found. */
  format: ImageFormat;
  /** Guest-visible size in bytes (what `qemu-img info` calls virtual-size). */
  virtualSize: number;
  /** Bytes allocated on disk (st_blocks * 512). */
  actualSize: number;
  /** Length of the file (or device). */
  fileSize: number;
  /** Allocation unit in bytes (qcow2/qed cluster, vmdk grain, vhd/vhdx/vdi block); absent for formats without one. */
  clusterSize?: number;
  /** The backing file as recorded in the image. */
  backingFile?: string;
  /** The backing file resolved against the image's directory, like qemu's full-backing-filename. */
  fullBackingFile?: string;
  /** The backing file's format as recorded in the image (e.g. qcow2's backing format header extension). */
  backingFormat?: string;
  /** qcow2 external data file, as recorded. */
  dataFile?: string;
  /** qcow2's `data-file-raw` bit: the external data file is a valid raw image by itself. */
  dataFileRaw?: boolean;
  /** The image is encrypted (qcow2 AES/LUKS, or a LUKS container). */
  encrypted: boolean;
  /** The dirty bit (qcow2) or need-check flag (qed) is set: the image was not closed cleanly. */
  dirty: boolean;
  /** qcow2's corrupt bit is set: qemu found inconsistent metadata and opens the image read-only. */
  corrupt: boolean;
  /** qcow2 only: zlib or zstd. */
  compressionType?: string;
  /** qcow2 only. */
  extendedL2?: boolean;
  /** For raw images: what else the bytes look like (iso, gpt, mbr, vpc, luks2). */
  contentHints: string[];
  /** Per-format details, e.g. qcow2 version/compat/refcountBits, vmdk createType/extents. */
  formatSpecific: {
    /** The same as {@link ImageInfo.format}. */
    type: ImageFormat;
    /** The format's fields, e.g. qcow2 `version`, `compat`, `refcountBits`; vmdk `createType`, `extents`. */
    data: Record<string, unknown>;
  };
  /** Whether the image may be used as it is, and why not. */
  safety: ImageSafety;
  /** With `followBackingChain`: each backing file in order, top's first. */
  chain?: (ImageInfo & {
    /** The backing file's path, resolved against the directory of the image naming it. */
    path: string;
  })[];
}

/** Options of {@link inspect}. */
export interface InspectOptions {
  /**
   * Inspect the backing files too (relative names resolve against the
   * directory of the image naming them), at most `maxDepth` (default 16)
   * links. A loop rejects with IMAGE_INVALID; a deeper chain, a non-local or
   * mismatching backing file, or an unsafe link makes the top image unsafe.
   */
  followBackingChain?:
    | boolean
    | {
        /** The most backing links followed; default 16. */
        maxDepth?: number;
      };
  /**
   * nova's `[compute] vmdk_allowed_types`: the VMDK create types accepted as
   * safe. A VMDK whose type (as qemu reports it) or whose descriptor's
   * `createType` claim is not listed is unsafe; an empty list makes every
   * VMDK unsafe. Default {@link DEFAULT_VMDK_ALLOWED_TYPES}
   * (`streamOptimized`, `monolithicSparse`).
   */
  vmdkAllowedTypes?: readonly string[];
  /**
   * Confirm a `raw` verdict with `qemu-img info` probing the file itself (no
   * `-f`, under the qemu runner's resource limits and timeout): when qemu
   * sees another format, the disagreement is an unsafe reason. Costs one
   * qemu-img run (about 5 ms) for raw files only, once per file while it is
   * unchanged (the answer is kept per process, keyed by the path, inode and
   * ctime); off by default, so `inspect` stays fork-free. `true` uses the
   * defaults.
   */
  qemuProbe?: boolean | QemuProbeOptions;
}

const FORMATS = new Set<string>(['raw', 'qcow2', 'qed', 'vmdk', 'vpc', 'vhdx', 'vdi', 'luks', 'parallels', 'bochs', 'cloop', 'dmg']);

/**
 * Inspects the image at `path`.
 *
 * @example
 * ```ts
 * const info = await inspect('/var/lib/nova/instances/_base/abc');
 * if (!info.safety.safe) throw new Error(info.safety.reasons.join('; '));
 * console.log(info.format, info.virtualSize);
 * ```
 * @throws {@link DiskNotFoundError} when the file does not exist,
 *   {@link ImageInvalidError} when its header is malformed.
 */
export async function inspect(path: string, options: InspectOptions = {}): Promise<ImageInfo> {
  if (typeof path !== 'string' || path === '') throw invalidArgument('a non-empty string', 'path', path);
  const follow = options.followBackingChain;
  if (follow !== undefined && typeof follow !== 'boolean' && (typeof follow !== 'object' || follow === null)) {
    throw invalidArgument('a boolean or { maxDepth }', 'followBackingChain', follow);
  }
  const allowed = checkVmdkAllowedTypes(options.vmdkAllowedTypes);
  const probe = options.qemuProbe;
  if (probe !== undefined && typeof probe !== 'boolean' && (typeof probe !== 'object' || probe === null)) {
    throw invalidArgument('a boolean or qemu probe options', 'qemuProbe', probe);
  }
  const raw: NativeImageInfo = await callNative({ domain: 'image', operation: 'inspect', path }, () =>
    native().imageInspect(path, follow === undefined ? {} : { followBackingChain: follow }),
  );
  const info = toImageInfo(raw, path, allowed);
  if (probe && info.format === 'raw') {
    const reason = await probeWithQemu(path, probe === true ? {} : probe);
    if (reason !== undefined) addReason(info, reason);
  }
  return info;
}

function addReason(info: ImageInfo, reason: string): void {
  info.safety = { safe: false, reasons: [...info.safety.reasons, reason] };
}

/**
 * Throws {@link ImageUnsafeError} (code IMAGE_UNSAFE) unless `info` is safe.
 *
 * @example
 * ```ts
 * assertSafe(await inspect(path), path);
 * ```
 */
export function assertSafe(info: ImageInfo, path: string): void {
  if (info.safety.safe) return;
  throw new ImageUnsafeError(`Image '${path}' is unsafe: ${info.safety.reasons.join('; ')}`, {
    reasons: info.safety.reasons,
    operation: 'inspect',
    path,
  });
}

function toImageInfo(raw: NativeImageInfo, path: string, vmdkAllowed: readonly string[]): ImageInfo {
  if (!FORMATS.has(raw.format)) throw new ImageInvalidError(`Image '${path}' has unknown format ${raw.format}`);
  const size = (v: number | bigint, what: string): number => {
    if (typeof v === 'number') return v;
    throw new ImageInvalidError(`Image '${path}' is invalid: ${what} exceeds 2^53 bytes`, { path });
  };
  const { chain, ...rest } = raw;
  const info: ImageInfo = {
    ...rest,
    format: raw.format as ImageFormat,
    virtualSize: size(raw.virtualSize, 'virtual size'),
    actualSize: size(raw.actualSize, 'actual size'),
    fileSize: size(raw.fileSize, 'file size'),
    clusterSize: raw.clusterSize === undefined ? undefined : size(raw.clusterSize, 'cluster size'),
    formatSpecific: { type: raw.format as ImageFormat, data: raw.formatSpecific.data },
  };
  if (info.clusterSize === undefined) delete info.clusterSize;
  for (const reason of vmdkTypeReasons(info, vmdkAllowed)) addReason(info, reason);
  if (chain !== undefined) {
    info.chain = chain.map((link) => ({ ...toImageInfo(link, link.path, vmdkAllowed), path: link.path }));
    // As the native chain walk does for its own reasons: a link's policy
    // refusal makes the top image unsafe too.
    for (const link of info.chain) {
      for (const reason of vmdkTypeReasons(link, vmdkAllowed)) addReason(info, `backing file '${link.path}': ${reason}`);
    }
  }
  return info;
}
