/**
 * The qemu-img operations the backends need (nova's `nova.virt.images` and
 * `disk/api` calls), each built as an argv with the input format explicit,
 * paths made absolute (so a file named `-x`, `json:{...}` or `rbd:pool/img` is
 * a file, never an option or protocol), and run by {@link runQemuImg} under
 * resource limits. The images `info` and `convert` open are inspected first
 * and refused when their header points at other files (see ./safety.ts),
 * unless the caller says the image is its own (`trusted`).
 */
import { lstat, rm, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

import {
  DiskNotFoundError,
  ImageInvalidError,
  ImageUnacceptableError,
  ImageUnsafeError,
  InvalidDiskInfoError,
  invalidArgument,
  QemuImgError,
} from '../errors.js';
import { inspect } from '../image/inspect.js';
import { supportsDirectIo } from './direct-io.js';
import { parseInfo, type QemuImgInfo } from './info.js';
import type { ResourceLimits } from './limits.js';
import { ProgressParser } from './progress.js';
import { runQemuImg, type RunQemuImgOptions } from './run.js';
import { checkSource, sourceWithBacking, type ExplicitBacking, type Inspector } from './safety.js';

/** Defaults of a {@link QemuImg} for every run it makes. */
export interface QemuImgOptions {
  /** Limits for every run unless a call overrides them. Default 2 GiB, 30 s (nova master's). */
  limits?: Partial<ResourceLimits> | false;
  /** Wall-clock limit in ms for every run unless a call overrides it. Default 5 min. */
  timeoutMs?: number;
  /** Program to run; default `qemu-img` from PATH. */
  qemuImg?: string;
  /** How sources are inspected before qemu-img opens them; default the library's native `inspect`. */
  inspector?: Inspector;
}

/** What every {@link QemuImg} call accepts: its own limits, timeout and abort signal. */
export interface CallOptions {
  /** Resource limits of this run instead of the QemuImg's; fields left out keep the operation's defaults ({@link DEFAULT_LIMITS}; convert: no CPU limit, 8 GiB of address space). `false` runs without prlimit. */
  limits?: Partial<ResourceLimits> | false;
  /** Wall-clock limit of this run in ms; 0 for none. Default: the QemuImg's, else 5 minutes (convert: none). */
  timeoutMs?: number;
  /** Kills qemu-img and rejects with `ABORTED`. */
  signal?: AbortSignal;
}

/** Options of {@link QemuImg.info}. */
export interface InfoOptions extends CallOptions {
  /** The format to open the image as (never probed). */
  format: string;
  /** Describe the whole backing chain (`--backing-chain`), top image first. qemu-img then opens every backing file: needs `trusted: true`. */
  backingChain?: boolean;
  /**
   * Skip the safety check: the image is one the library (or the caller)
   * made. Without it the header is inspected first and an image naming a
   * data file, VMDK extents or another format than `format` is refused with
   * `IMAGE_UNSAFE` (a backing file alone is accepted: `qemu-img info` does
   * not open it unless `backingChain` is asked for).
   */
  trusted?: boolean;
}

/** Options of {@link QemuImg.convert}. */
export interface ConvertOptions extends CallOptions {
  /** Format of the source (`-f`), never probed. */
  srcFormat: string;
  /** Format of the target (`-O`), e.g. `raw` or `qcow2`. */
  dstFormat: string;
  /** Keep zeros as holes (default true); false writes them (`-S 0`). */
  sparse?: boolean;
  /** Compress the target (`-c`), as nova's `snapshot_compression`; only for a `qcow2` target (else `INVALID_ARGUMENT`). */
  compress?: boolean;
  /**
   * Skip the safety check: the source is an image the library (or the
   * caller) made. Without it the source's header is inspected first and an
   * image with a backing file, a data file, VMDK extents, or another format
   * than `srcFormat` is refused with `IMAGE_UNSAFE` before qemu-img runs. A
   * `raw` source needs no check (qemu reads no header of it).
   */
  trusted?: boolean;
  /**
   * The source's legitimate backing file (e.g. the cached base under a qcow2
   * overlay). qemu-img is told to open exactly this file as the backing
   * (a `json:` source with `backing` set), never the name in the header; the
   * file must itself be safe. Only for a source that has a backing file.
   */
  backing?: ExplicitBacking;
  /** Target cache mode (`-t`); default `none` where O_DIRECT works, else `writeback`. */
  cacheMode?: 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe';
  /** Target creation options (`-o`), e.g. { cluster_size: 65536 }. */
  options?: Record<string, string | number | boolean>;
  /** Percentages from `-p`, increasing. */
  onProgress?: (percent: number) => void;
}

/** Options of {@link QemuImg.create}. */
export interface CreateOptions extends CallOptions {
  /** Format of the new image (`-f`), e.g. `qcow2`. */
  format: string;
  /** Virtual size in bytes; may be left out with a backing file (it is inherited). */
  size?: number;
  /** Backing file of the new image (`-b`), made absolute. */
  backingFile?: string;
  /** Required with backingFile: a backing file is never probed. */
  backingFormat?: string;
  /** Creation options (`-o`), e.g. { cluster_size: 65536, preallocation: 'metadata' }. */
  options?: Record<string, string | number | boolean>;
}


// convert's defaults: no CPU-time cap (a large copy rightly takes long) and a
// wider address-space cap than info's 2 GiB: qemu-img's I/O thread pool (up
// to 64 threads, each reserving a stack and a 64 MiB malloc arena) fails to
// start threads under 1 GiB (seen converting a logical volume:
// "qemu_thread_create: Resource temporarily unavailable"). 8 GiB fits that
// pool and still stops a runaway allocation. Explicit `limits` still apply.
const CONVERT_LIMITS: Readonly<ResourceLimits> = Object.freeze({ cpuSeconds: 0, addressSpaceBytes: 8 * 2 ** 30 });

/** An RBD image (or snapshot) as qemu's rbd block driver opens it. */
export interface RbdSource {
  /** The pool holding the image. */
  pool: string;
  /** The image's name. */
  image: string;
  /** A snapshot to read instead of the image head (`@snap`). */
  snapshot?: string;
  /** Ceph user id without `client.` (`:id=`). */
  user?: string;
  /** ceph.conf path (`:conf=`). */
  conf?: string;
  /** Keyring path (`:keyring=`), when ceph.conf does not name it. */
  keyring?: string;
}

/** Options of {@link QemuImg.convertFromRbd}. */
export interface ConvertFromRbdOptions extends Omit<ConvertOptions, 'srcFormat' | 'backing'> {
  /** The format of the RBD image's bytes; default `raw` (what nova's Rbd backend stores). Another format needs `trusted: true` (the header cannot be inspected first). */
  srcFormat?: string;
}

/** Options of {@link QemuImg.info} for an RBD image. */
export interface RbdInfoOptions extends Omit<InfoOptions, 'format' | 'backingChain'> {
  /** The format of the RBD image's bytes; default `raw`. Another format needs `trusted: true` (the header cannot be inspected first). */
  format?: string;
}

/** Options of {@link QemuImg.resize}. */
export interface ResizeOptions extends CallOptions {
  /** Format of the image (`-f`), never probed. */
  format: string;
  /** Allow a smaller size (`--shrink`); data past the new end is lost. */
  shrink?: boolean;
}

const FORMAT = /^[a-z0-9][a-z0-9_.-]*$/;
// Where qemu-img's rbd driver reads a header nothing inspected first.
function checkRbdFormat(operation: string, source: RbdSource, format: string, trusted: boolean | undefined): void {
  if (format === 'raw' || trusted === true) return;
  const reason = `the header of an RBD image opened as ${format} cannot be inspected first; pass trusted: true for an image the library made`;
  throw new ImageUnsafeError(`${operation}: rbd image ${source.pool}/${source.image} is unsafe to open with qemu-img: ${reason}`, {
    reasons: [reason],
    operation,
    pool: source.pool,
    image: source.image,
  });
}
// Names qemu's `rbd:` filename syntax carries without escaping: no ':', '@', '/', '\\' or ','.
const RBD_WORD = /^[A-Za-z0-9_.+-]+$/;
// Image names may also hold '~', which that syntax carries as it is: the rbd
// store's pool-held bases are `_base~<filename>` (src/backends/RbdBaseImages.ts).
const RBD_IMAGE = /^[A-Za-z0-9_.+~-]+$/;
const RBD_PATH = /^\/[A-Za-z0-9_.+\-/]+$/;
const OPTION_KEY = /^[a-z0-9][a-z0-9_.-]*$/i;

function checkFormat(name: string, value: unknown): string {
  if (typeof value !== 'string' || !FORMAT.test(value)) throw invalidArgument('a qemu-img format name', name, value);
  return value;
}

function checkPath(name: string, value: unknown): string {
  if (typeof value !== 'string' || value === '') throw invalidArgument('a non-empty string', name, value);
  return resolve(value);
}

function checkSize(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument('a non-negative integer', name, value);
  }
  return value;
}

/**
 * nova's `rbd:pool/image[@snap]:id=user:conf=path` pseudo-path, from validated
 * parts only, so nothing in it can add an option of its own.
 *
 * @example
 * ```ts
 * rbdFilename({ pool: 'vms', image: 'uuid_disk', user: 'nova', conf: '/etc/ceph/ceph.conf' });
 * // 'rbd:vms/uuid_disk:id=nova:conf=/etc/ceph/ceph.conf'
 * ```
 */
export function rbdFilename(source: RbdSource): string {
  const word = (name: string, value: unknown, pattern = RBD_WORD): string => {
    if (typeof value !== 'string' || !pattern.test(value)) throw invalidArgument(`an RBD name of letters, digits and _.+-${pattern === RBD_IMAGE ? '~' : ''}`, name, value);
    return value;
  };
  const path = (name: string, value: unknown): string => {
    if (typeof value !== 'string' || !RBD_PATH.test(value)) throw invalidArgument('an absolute path of letters, digits and _.+-/', name, value);
    return value;
  };
  let out = `rbd:${word('pool', source?.pool)}/${word('image', source.image, RBD_IMAGE)}`;
  if (source.snapshot !== undefined) out += `@${word('snapshot', source.snapshot)}`;
  if (source.user !== undefined) out += `:id=${word('user', source.user)}`;
  if (source.conf !== undefined) out += `:conf=${path('conf', source.conf)}`;
  if (source.keyring !== undefined) out += `:keyring=${path('keyring', source.keyring)}`;
  return out;
}

function checkCompress(compress: unknown, dstFormat: string): void {
  if (compress === undefined || compress === false) return;
  if (compress !== true) throw invalidArgument('a boolean', 'compress', compress);
  if (dstFormat !== 'qcow2') throw invalidArgument("dstFormat 'qcow2' with compress (qemu-img convert -c)", 'dstFormat', dstFormat);
}

/** `-o` value: key=value pairs, commas inside values doubled as qemu-img expects. */
function optionString(options: Record<string, string | number | boolean>): string {
  return Object.entries(options)
    .map(([key, value]) => {
      if (!OPTION_KEY.test(key)) throw invalidArgument('a qemu-img option name', 'options', key);
      const text = typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value);
      return `${key}=${text.replaceAll(',', ',,')}`;
    })
    .join(',');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function missing(operation: string, path: string): DiskNotFoundError {
  return new DiskNotFoundError(`${operation}: no disk at ${path}`, { operation, path, errnoName: 'ENOENT' });
}

/** A qemu-img failure re-issued with the code the operation owes its caller. */
function recode(
  error: unknown,
  Kind: typeof InvalidDiskInfoError | typeof ImageUnacceptableError,
  path: string,
): unknown {
  if (!(error instanceof QemuImgError)) return error;
  return new Kind(error.message, { operation: error.operation, path, process: error.process, cause: error });
}

/** A malformed header found by the inspection, re-issued with the code the operation owes its caller (as qemu-img's own refusal would be). */
function recodeInvalid(
  error: unknown,
  Kind: typeof InvalidDiskInfoError | typeof ImageUnacceptableError,
  path: string,
): unknown {
  if (!(error instanceof ImageInvalidError)) return error;
  return new Kind(error.message, { operation: error.operation ?? 'inspect', path, cause: error });
}

/**
 * Runs qemu-img operations with one set of defaults (limits, timeout, binary).
 *
 * @example
 * ```ts
 * const qemu = new QemuImg({ limits: { addressSpaceBytes: 2 ** 30, cpuSeconds: 30 } });
 * const info = await qemu.info('/var/lib/nova/instances/_base/abc', { format: 'raw' });
 * ```
 */
export class QemuImg {
  readonly #defaults: QemuImgOptions;
  readonly #inspector: Inspector;

  constructor(options: QemuImgOptions = {}) {
    this.#defaults = { ...options };
    this.#inspector = options.inspector ?? ((path) => inspect(path));
  }

  #run(argv: string[], call: CallOptions, extra: Partial<RunQemuImgOptions> = {}) {
    const run: RunQemuImgOptions = { ...extra };
    const limits = call.limits ?? extra.limits ?? this.#defaults.limits;
    if (limits !== undefined) run.limits = limits;
    const timeoutMs = call.timeoutMs ?? extra.timeoutMs ?? this.#defaults.timeoutMs;
    if (timeoutMs !== undefined) run.timeoutMs = timeoutMs;
    if (call.signal) run.signal = call.signal;
    if (this.#defaults.qemuImg) run.qemuImg = this.#defaults.qemuImg;
    return runQemuImg(argv, run);
  }

  /**
   * `qemu-img info --force-share --output=json -f <format>`, parsed and
   * validated. `--force-share` (nova master) reads the image without taking
   * qemu's image lock, so the disk of a running guest can be described. The
   * image is inspected first unless `trusted` (see {@link InfoOptions.trusted}).
   * An {@link RbdSource} is described through qemu's rbd driver (nova allows
   * `rbd:` paths here), built from validated parts by {@link rbdFilename}.
   * Rejects with `DISK_NOT_FOUND` when the path does not exist,
   * `IMAGE_UNSAFE` when the header points at other files, `INVALID_DISK_INFO`
   * when qemu-img fails (including when the resource limits stop it: the
   * message says so and `process.resourceLimited` is true) or answers nonsense.
   *
   * @example
   * ```ts
   * const { virtualSize, backingFilename } = await qemu.info(path, { format: 'qcow2' });
   * const chain = await qemu.info(path, { format: 'qcow2', backingChain: true, trusted: true }); // QemuImgInfo[]
   * const rbd = await qemu.info({ pool: 'vms', image: 'uuid_disk', user: 'nova', conf: '/etc/ceph/ceph.conf' });
   * ```
   */
  info(path: string, options: InfoOptions & { backingChain: true }): Promise<QemuImgInfo[]>;
  info(path: string, options: InfoOptions & { backingChain?: false }): Promise<QemuImgInfo>;
  info(source: RbdSource, options?: RbdInfoOptions): Promise<QemuImgInfo>;
  async info(path: string | RbdSource, options?: InfoOptions | RbdInfoOptions): Promise<QemuImgInfo | QemuImgInfo[]> {
    if (typeof path === 'object' && path !== null) return this.#infoRbd(path, (options ?? {}) as RbdInfoOptions);
    const call = options as InfoOptions;
    const abs = checkPath('path', path);
    const format = checkFormat('format', call?.format);
    if (!(await exists(abs))) throw missing('qemu-img info', abs);
    const chain = call.backingChain === true;
    if (call.trusted !== true) {
      if (chain) {
        const reason = 'backingChain opens every backing file; pass trusted: true for an image the library made';
        throw new ImageUnsafeError(`qemu-img info: ${reason}`, { reasons: [reason], operation: 'qemu-img info', path: abs });
      }
      await checkSource('qemu-img info', abs, format, this.#inspector, { allowOwnBacking: true }).catch((error: unknown) => {
        throw recodeInvalid(error, InvalidDiskInfoError, abs);
      });
    }
    const argv = ['info', '--force-share', '-f', format, '--output=json', ...(chain ? ['--backing-chain'] : []), abs];
    const infos = await this.#info(argv, call, abs, chain);
    return chain ? infos : (infos[0] as QemuImgInfo);
  }

  async #infoRbd(source: RbdSource, options: RbdInfoOptions): Promise<QemuImgInfo> {
    const name = rbdFilename(source);
    const format = checkFormat('format', options.format ?? 'raw');
    checkRbdFormat('qemu-img info', source, format, options.trusted);
    const infos = await this.#info(['info', '--force-share', '-f', format, '--output=json', name], options, name, false);
    return infos[0] as QemuImgInfo;
  }

  async #info(argv: string[], call: CallOptions, path: string, chain: boolean): Promise<QemuImgInfo[]> {
    let stdout: string;
    try {
      ({ stdout } = await this.#run(argv, call));
    } catch (error) {
      throw recode(error, InvalidDiskInfoError, path);
    }
    return parseInfo(path, stdout, chain);
  }

  /**
   * `qemu-img convert`: `-f` and `-O` always given, `-t none` when the target's
   * directory supports O_DIRECT (else `writeback`), `-p` parsed into
   * `onProgress`. Unless `trusted`, the source is inspected first and refused
   * with `IMAGE_UNSAFE` (nothing run, nothing written) when its header names
   * another file; a legitimate backing file is given as `backing` and is then
   * the only file qemu-img opens besides the source. A target this call created is removed on failure or abort
   * (an existing file or device is left). The CPU limit and the timeout default
   * to none here (unless set on the QemuImg or the call), since a large
   * legitimate copy can take many minutes; the address-space limit applies. Rejects with `DISK_NOT_FOUND` for a
   * missing source, `IMAGE_UNACCEPTABLE` when qemu-img cannot convert it,
   * `QEMU_FAILED` when the failure concerns the target (stderr names it, or a
   * write failed) or the limits stopped it, `QEMU_TIMEOUT`, `ABORTED` on abort.
   *
   * @example
   * ```ts
   * await qemu.convert('/images/cirros.qcow2', '/instances/uuid/disk', {
   *   srcFormat: 'qcow2', dstFormat: 'raw', signal, onProgress: (p) => console.log(`${p}%`),
   * });
   * // a qcow2 overlay on its cached base, compressed, reading only these two files:
   * await qemu.convert('/instances/uuid/disk', '/snapshots/snap.qcow2', {
   *   srcFormat: 'qcow2', dstFormat: 'qcow2', compress: true,
   *   backing: { path: '/instances/_base/9e88…', format: 'raw' },
   * });
   * ```
   */
  async convert(src: string, dst: string, options: ConvertOptions): Promise<void> {
    const absSrc = checkPath('src', src);
    const absDst = checkPath('dst', dst);
    const srcFormat = checkFormat('srcFormat', options?.srcFormat);
    const dstFormat = checkFormat('dstFormat', options.dstFormat);
    if (options.backing !== undefined) {
      if (typeof options.backing !== 'object' || options.backing === null) throw invalidArgument('{ path, format }', 'backing', options.backing);
      checkFormat('backing.format', options.backing.format);
    }
    if (options.trusted === true && options.backing !== undefined) throw invalidArgument('either trusted or backing', 'backing', options.backing.path);
    checkCompress(options.compress, dstFormat);
    if (!(await exists(absSrc))) throw missing('qemu-img convert', absSrc);
    let source: string[] = ['-f', srcFormat, absSrc];
    if (options.trusted !== true) {
      const plan = await checkSource('qemu-img convert', absSrc, srcFormat, this.#inspector, options.backing ? { backing: options.backing } : {}).catch(
        (error: unknown) => {
          throw recodeInvalid(error, ImageUnacceptableError, absSrc);
        },
      );
      if (plan.backing) source = ['-f', srcFormat, await sourceWithBacking(absSrc, srcFormat, plan.backing)];
    }
    const before = await lstat(absDst).catch(() => undefined);
    let cacheMode = options.cacheMode;
    if (cacheMode === undefined) {
      const direct = before?.isBlockDevice() === true || (await supportsDirectIo(dirname(absDst)));
      cacheMode = direct ? 'none' : 'writeback';
    }
    try {
      await this.#convert(source, absDst, dstFormat, cacheMode, options);
    } catch (error) {
      // nova reports a failed convert as ImageUnacceptable; a failure on the
      // target side (no space, no permission) is not the image's fault.
      const stderr = error instanceof QemuImgError ? (error.process?.stderr ?? '') : '';
      const targetSide = stderr.includes(absDst) || /error while writing|No space left|Read-only file system/.test(stderr);
      if (error instanceof QemuImgError && error.code === 'QEMU_FAILED' && !targetSide && !error.process?.resourceLimited) {
        throw recode(error, ImageUnacceptableError, absSrc);
      }
      throw error;
    }
  }

  /**
   * `qemu-img convert` from an RBD image (qemu's rbd block driver, Debian's
   * qemu-block-extra) to a local file: nova's `Rbd.snapshot_extract`. The
   * source is built by {@link rbdFilename} from validated parts; the target
   * follows {@link QemuImg.convert}'s rules (absolute, removed on failure when
   * this call created it).
   *
   * @example
   * ```ts
   * await qemu.convertFromRbd({ pool: 'vms', image: 'uuid_disk', user: 'nova', conf: '/etc/ceph/ceph.conf' },
   *   '/var/lib/nova/instances/snapshots/tmp/snap.qcow2', { dstFormat: 'qcow2' });
   * ```
   */
  async convertFromRbd(source: RbdSource, dst: string, options: ConvertFromRbdOptions): Promise<void> {
    const src = rbdFilename(source);
    const absDst = checkPath('dst', dst);
    const srcFormat = checkFormat('srcFormat', options?.srcFormat ?? 'raw');
    const dstFormat = checkFormat('dstFormat', options.dstFormat);
    checkCompress(options.compress, dstFormat);
    checkRbdFormat('qemu-img convert', source, srcFormat, options.trusted);
    await this.#convert(['-f', srcFormat, src], absDst, dstFormat, options.cacheMode ?? 'writeback', options);
  }

  // The run both converts share: argv, progress, limits (no CPU limit: a
  // large copy may rightly take minutes), and the target removed on failure
  // when this call created it.
  async #convert(source: string[], absDst: string, dstFormat: string, cacheMode: string, options: ConvertFromRbdOptions): Promise<void> {
    const before = await lstat(absDst).catch(() => undefined);
    const input = source.slice(0, -1);
    const argv = ['convert', '-t', cacheMode, ...input, '-O', dstFormat];
    if (options.compress) argv.push('-c');
    if (options.sparse === false) argv.push('-S', '0');
    if (options.options && Object.keys(options.options).length > 0) argv.push('-o', optionString(options.options));
    const parser = options.onProgress ? new ProgressParser(options.onProgress) : undefined;
    if (parser) argv.push('-p');
    argv.push(source.at(-1) as string, absDst);
    const callLimits = options.limits ?? this.#defaults.limits;
    const limits = callLimits === false ? false : { ...CONVERT_LIMITS, ...callLimits };
    try {
      const timeoutMs = options.timeoutMs ?? this.#defaults.timeoutMs ?? 0;
      await this.#run(argv, { ...options, limits, timeoutMs }, parser ? { onStdout: (chunk) => parser.push(chunk) } : {});
      parser?.end();
    } catch (error) {
      if (!before) await rm(absDst, { force: true }).catch(() => undefined);
      throw error;
    }
  }

  /**
   * `qemu-img resize -f <format> path size` (bytes). Rejects with
   * `DISK_NOT_FOUND` when the path does not exist, `QEMU_FAILED` otherwise.
   *
   * @example
   * ```ts
   * await qemu.resize('/instances/uuid/disk', 20 * 2 ** 30, { format: 'qcow2' });
   * ```
   */
  async resize(path: string, size: number, options: ResizeOptions): Promise<void> {
    const abs = checkPath('path', path);
    const bytes = checkSize('size', size);
    const format = checkFormat('format', options?.format);
    if (!(await exists(abs))) throw missing('qemu-img resize', abs);
    await this.#run(['resize', '-f', format, ...(options.shrink ? ['--shrink'] : []), abs, String(bytes)], options);
  }

  /**
   * `qemu-img create -f <format> [-b backing -F backingFormat] [-o ...] path [size]`.
   * Rejects with `QEMU_FAILED` (for example when the path already holds an image
   * qemu-img refuses to replace, or the directory is not writable).
   *
   * @example
   * ```ts
   * await qemu.create('/instances/uuid/disk', {
   *   format: 'qcow2', backingFile: '/instances/_base/abc', backingFormat: 'raw', size: 20 * 2 ** 30,
   * });
   * ```
   */
  async create(path: string, options: CreateOptions): Promise<void> {
    const abs = checkPath('path', path);
    const format = checkFormat('format', options?.format);
    const argv = ['create', '-f', format];
    if (options.backingFile !== undefined) {
      const backing = checkPath('backingFile', options.backingFile);
      const backingFormat = checkFormat('backingFormat', options.backingFormat);
      argv.push('-b', backing, '-F', backingFormat);
    } else if (options.size === undefined) {
      throw invalidArgument('a size (or a backingFile)', 'size', options.size);
    }
    if (options.options && Object.keys(options.options).length > 0) argv.push('-o', optionString(options.options));
    argv.push(abs);
    if (options.size !== undefined) argv.push(String(checkSize('size', options.size)));
    await this.#run(argv, options);
  }
}
