/**
 * Runs one `qemu-img` command through the library's one process runner
 * ({@link runProcess}: argv only, SIGTERM then SIGKILL to the process group on
 * timeout or abort) under `prlimit` address-space and CPU-time limits.
 */
import { invalidArgument, QemuImgError, QemuImgTimeoutError } from '../errors.js';
import { describeOutcome, processFailure, runProcess } from '../process/runProcess.js';
import { DEFAULT_LIMITS, type ResourceLimits } from './limits.js';

/** Options of {@link runQemuImg}. */
export interface RunQemuImgOptions {
  /** Limits for this run; `false` runs without prlimit. Defaults: {@link DEFAULT_LIMITS}. */
  limits?: Partial<ResourceLimits> | false;
  /** Wall-clock limit in ms; 0 for none. Default 5 minutes. */
  timeoutMs?: number;
  /** Stops the process group (SIGTERM, then SIGKILL) and rejects with code `ABORTED`. */
  signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL when a run is stopped; default 2000 ms. */
  killGraceMs?: number;
  /** Each chunk of stdout as it arrives (progress parsing). */
  onStdout?: (chunk: string) => void;
  /** Program to run; default `qemu-img` from PATH. */
  qemuImg?: string;
  /**
   * Let qemu-img probe the format (an image-opening command without `-f`).
   * Only for a second opinion on a file the caller already inspected and
   * found raw (see `inspect`'s `qemuProbe`); never to open an image.
   */
  allowProbe?: boolean;
}

/** How a successful qemu-img run ended. */
export interface RunQemuImgResult {
  /** qemu-img's standard output, whole (e.g. the JSON of `info --output=json`). */
  stdout: string;
  /** qemu-img's standard error, untrimmed (warnings of a successful run). */
  stderr: string;
  /** The full argv that ran, prlimit included. */
  command: string[];
}

/**
 * How long a qemu-img run may take before it is killed: five minutes.
 *
 * @example
 * ```ts
 * await runQemuImg(['info', '-f', 'qcow2', path], { timeoutMs: DEFAULT_TIMEOUT_MS * 2 });
 * ```
 */
export const DEFAULT_TIMEOUT_MS = 5 * 60_000;

// Subcommands that open an existing image: the input format must be explicit,
// or qemu-img probes it and a raw guest disk can pose as qcow2 with a backing
// file of the host's choosing (CVE-2008-2004 class).
const OPENS_IMAGE = new Set(['info', 'convert', 'resize', 'check', 'map', 'compare', 'rebase', 'amend', 'snapshot']);

function resolveLimits(limits: RunQemuImgOptions['limits']): ResourceLimits | undefined {
  if (limits === false) return undefined;
  const out = { ...DEFAULT_LIMITS, ...limits };
  for (const [key, value] of Object.entries(out)) {
    if (!Number.isSafeInteger(value) || value < 0) throw invalidArgument('a non-negative integer', `limits.${key}`, value);
  }
  return out;
}

/**
 * Runs `qemu-img <argv...>` and resolves with its output; rejects with a
 * `QemuImgError` (`QEMU_FAILED`, or `QEMU_TIMEOUT`) whose `process` holds the
 * exit status or the signal that ended it, trimmed stderr, and whether the
 * resource limits or the timeout stopped it; `ABORTED` when the signal fires.
 *
 * @example
 * ```ts
 * const { stdout } = await runQemuImg(['info', '-f', 'qcow2', '--output=json', '/images/disk.qcow2'], {
 *   limits: { addressSpaceBytes: 2 ** 31, cpuSeconds: 30 }, timeoutMs: 60_000,
 * });
 * ```
 */
export async function runQemuImg(argv: readonly string[], options: RunQemuImgOptions = {}): Promise<RunQemuImgResult> {
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw invalidArgument('a non-empty array of strings', 'argv', argv);
  }
  const sub = argv[0] as string;
  if (OPENS_IMAGE.has(sub) && !argv.includes('-f') && !argv.includes('--image-opts') && options.allowProbe !== true) {
    throw invalidArgument(`argv with '-f <format>' for qemu-img ${sub}`, 'argv', argv.join(' '));
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0) throw invalidArgument('a non-negative integer', 'timeoutMs', timeoutMs);
  const limits = resolveLimits(options.limits);
  const operation = `qemu-img ${sub}`;
  const outcome = await runProcess(
    { program: options.qemuImg ?? 'qemu-img', packageName: 'qemu-utils', args: argv },
    {
      operation,
      timeoutMs,
      ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(limits ? { limits } : {}),
      ...(options.onStdout ? { onStdout: options.onStdout } : {}),
      startError: (message, details) => new QemuImgError(message, details),
    },
  );
  if (outcome.exitCode === 0 && !outcome.timedOut) return { stdout: outcome.stdout, stderr: outcome.stderr, command: outcome.command };
  const errno = outcome.timedOut ? undefined : STRERRORS.find(([text]) => outcome.stderr.includes(text))?.[1];
  throw new (outcome.timedOut ? QemuImgTimeoutError : QemuImgError)(describeOutcome(operation, outcome, timeoutMs, limits), {
    operation,
    process: processFailure(outcome),
    ...(errno === undefined ? {} : { errnoName: errno }),
  });
}

// qemu-img reports a failed write with strerror's text only; the errno names a caller acts on
// (a full or over-quota filesystem) are read back from it.
const STRERRORS: ReadonlyArray<readonly [string, string]> = [
  ['No space left on device', 'ENOSPC'],
  ['Disk quota exceeded', 'EDQUOT'],
];
