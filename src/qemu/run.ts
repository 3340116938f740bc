/**
 * Runs one `qemu-img` command: an argv array through spawn (never a shell),
 * under `prlimit` address-space and CPU-time limits, with a wall-clock timeout
 * and an AbortSignal that kill its whole process group.
 */
import { spawn } from 'node:child_process';

import { abortError } from '../abort.js';
import { invalidArgument, QemuImgError, QemuImgTimeoutError, type ProcessFailure } from '../errors.js';
import { DEFAULT_LIMITS, describeLimits, findProgram, prlimitOptions, type ResourceLimits } from './limits.js';

/** Options of {@link runQemuImg}. */
export interface RunQemuImgOptions {
  /** Limits for this run; `false` runs without prlimit. Defaults: {@link DEFAULT_LIMITS}. */
  limits?: Partial<ResourceLimits> | false;
  /** Wall-clock limit in ms; 0 for none. Default 5 minutes. */
  timeoutMs?: number;
  /** Kills the process group and rejects with code `ABORTED`. */
  signal?: AbortSignal;
  /** Each chunk of stdout as it arrives (progress parsing). */
  onStdout?: (chunk: string) => void;
  /** Program to run; default `qemu-img` from PATH. */
  qemuImg?: string;
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

// How a process killed by RLIMIT_AS / RLIMIT_CPU shows itself: the CPU limit
// sends SIGXCPU then SIGKILL; an address-space limit makes allocations fail.
const LIMIT_PATTERNS =
  /Cannot allocate memory|Failed to allocate|Resource temporarily unavailable|failed to map segment|out of memory/i;

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
 * exit status, trimmed stderr and whether the resource limits stopped it.
 *
 * @example
 * ```ts
 * const { stdout } = await runQemuImg(['info', '-f', 'qcow2', '--output=json', '/images/disk.qcow2'], {
 *   limits: { addressSpaceBytes: 2 ** 30, cpuSeconds: 30 }, timeoutMs: 60_000,
 * });
 * ```
 */
export async function runQemuImg(argv: readonly string[], options: RunQemuImgOptions = {}): Promise<RunQemuImgResult> {
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw invalidArgument('a non-empty array of strings', 'argv', argv);
  }
  const sub = argv[0] as string;
  if (OPENS_IMAGE.has(sub) && !argv.includes('-f') && !argv.includes('--image-opts')) {
    throw invalidArgument(`argv with '-f <format>' for qemu-img ${sub}`, 'argv', argv.join(' '));
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0) throw invalidArgument('a non-negative integer', 'timeoutMs', timeoutMs);
  const limits = resolveLimits(options.limits);
  const operation = `qemu-img ${sub}`;
  if (options.signal?.aborted) throw abortError(operation, { cause: options.signal.reason });

  const qemuImg = await findProgram(options.qemuImg ?? 'qemu-img', 'qemu-utils');
  const command = limits
    ? [await findProgram('prlimit', 'util-linux'), ...prlimitOptions(limits), '--', qemuImg, ...argv]
    : [qemuImg, ...argv];

  return new Promise<RunQemuImgResult>((resolve, reject) => {
    // detached: its own process group, so a kill reaches anything it forks.
    const child = spawn(command[0] as string, command.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      // qemu-img's messages are matched below; keep them in English.
      env: { ...process.env, LC_ALL: 'C', LANG: 'C' },
    });
    let stdout = '';
    let stderr = '';
    let stoppedBy: 'timeout' | 'abort' | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });

    const kill = (why: 'timeout' | 'abort'): void => {
      stoppedBy ??= why;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    const timer = timeoutMs > 0 ? setTimeout(() => kill('timeout'), timeoutMs) : undefined;
    const onAbort = (): void => kill('abort');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // Aborted while the programs were being looked up: the event has passed.
    if (options.signal?.aborted) kill('abort');
    const cleanup = (): void => {
      if (timer) clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    };

    child.on('error', (error) => {
      cleanup();
      reject(new QemuImgError(`${operation} could not start: ${error.message}`, { operation, cause: error }));
    });
    child.on('close', (exitCode, signal) => {
      cleanup();
      if (exitCode === 0 && !stoppedBy) {
        resolve({ stdout, stderr, command });
        return;
      }
      if (stoppedBy === 'abort') {
        reject(abortError(operation, { cause: options.signal?.reason }));
        return;
      }
      const trimmed = stderr.trim();
      const resourceLimited =
        !stoppedBy && limits !== undefined && (signal === 'SIGKILL' || signal === 'SIGXCPU' || LIMIT_PATTERNS.test(trimmed));
      const process: ProcessFailure = {
        command,
        exitCode,
        signal,
        stderr: trimmed,
        resourceLimited,
        timedOut: stoppedBy === 'timeout',
      };
      let message: string;
      if (stoppedBy === 'timeout') message = `${operation} timed out after ${timeoutMs} ms and was killed`;
      else if (resourceLimited) message = `${operation} was stopped by resource limits (${describeLimits(limits)})`;
      else message = `${operation} failed with ${signal ? `signal ${signal}` : `exit code ${exitCode}`}`;
      if (trimmed) message += `: ${trimmed}`;
      const Class = stoppedBy === 'timeout' ? QemuImgTimeoutError : QemuImgError;
      reject(new Class(message, { operation, process }));
    });
  });
}
