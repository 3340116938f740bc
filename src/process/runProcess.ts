/**
 * The one way the library runs an external program (qemu-img, lvm,
 * e2fsck/resize2fs): an argv array through spawn, never a shell; in the C
 * locale; optionally under prlimit resource limits; with one timeout and one
 * kill rule (SIGTERM to the process group, then SIGKILL after a grace
 * period) shared by the timeout and the AbortSignal. The program's end is
 * reported as it was: an exit status, or the signal that ended it.
 */
import { spawn } from 'node:child_process';

import { abortError } from '../abort.js';
import { ImageIoError, invalidArgument, type ErrorDetails, type ImageBackendError, type ProcessFailure } from '../errors.js';
import { findProgram } from './findProgram.js';
import { describeLimits, prlimitOptions, type ResourceLimits } from './prlimit.js';

/** Options of {@link runProcess}. */
export interface RunProcessOptions {
  /** Names the run in errors, e.g. `qemu-img info`; default the program's name. */
  operation?: string;
  /** Wall-clock limit in ms; 0 (default) for none. Past it the program is killed and the outcome says `timedOut`. */
  timeoutMs?: number;
  /** Time between SIGTERM and SIGKILL when the program is stopped (timeout or abort); default 2000 ms. */
  killGraceMs?: number;
  /** Stops the program (SIGTERM, then SIGKILL) and rejects with `ABORTED`. */
  signal?: AbortSignal;
  /** Address-space and CPU-time caps applied with prlimit(1); absent: none. */
  limits?: ResourceLimits;
  /** Variables added to the environment (which always has `LC_ALL=C`, `LANG=C`). */
  env?: Record<string, string>;
  /** Each chunk of stdout as it arrives (progress parsing). */
  onStdout?: (chunk: string) => void;
  /** The error to reject with when the program could not start (EACCES, EMFILE...); default an `IO_ERROR` {@link ImageIoError}. */
  startError?: (message: string, details: ErrorDetails) => ImageBackendError;
}

/** How a program that ran ended: an exit status, or the signal that ended it. */
export interface ProcessOutcome {
  /** The argv that ran, program first (prlimit first when limits applied). */
  command: string[];
  /** Exit status; null when a signal ended the program. */
  exitCode: number | null;
  /** The signal that ended the program, or null when it exited. */
  signal: NodeJS.Signals | null;
  /** Standard output, whole. */
  stdout: string;
  /** Standard error, whole (untrimmed). */
  stderr: string;
  /** The wall-clock timeout stopped it. */
  timedOut: boolean;
  /** The prlimit caps stopped it (a CPU-limit signal, or an allocation failure on stderr). */
  resourceLimited: boolean;
}

/** Default time between SIGTERM and SIGKILL: 2 s. */
export const DEFAULT_KILL_GRACE_MS = 2000;

// How a process stopped by RLIMIT_AS / RLIMIT_CPU shows itself: the CPU limit
// sends SIGXCPU then SIGKILL; an address-space limit makes allocations fail.
const LIMIT_PATTERNS =
  /Cannot allocate memory|Failed to allocate|Resource temporarily unavailable|failed to map segment|out of memory/i;

function checkMs(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalidArgument('a non-negative integer', name, value);
  return value;
}

/**
 * Runs `program args...` and resolves with how it ended, whatever the exit
 * status or signal: the caller decides what a failure means and which error
 * it owes (see {@link describeOutcome} and {@link processFailure}). Rejects
 * with `ABORTED` when `signal` fires (after the program is gone), with
 * `TOOL_NOT_FOUND` when the program is not installed, and with the error
 * `startError` makes when the program could not start.
 *
 * `program` is looked up in PATH (plus /usr/sbin and /sbin); `prefix`
 * (e.g. `['sudo', '-n']`) runs before it. The program gets its own process
 * group, so a stop reaches everything it forked.
 *
 * @example
 * ```ts
 * const outcome = await runProcess({ program: 'e2fsck', packageName: 'e2fsprogs', args: ['-fp', device] }, { timeoutMs: 60_000 });
 * if (outcome.exitCode === null) throw new Error(describeOutcome('e2fsck', outcome, 60_000));
 * ```
 */
export async function runProcess(
  spec: {
    /** The program, by name (looked up) or absolute path. */
    program: string;
    /** The Debian package that provides it, named in `TOOL_NOT_FOUND`. */
    packageName: string;
    /** Its arguments. */
    args: readonly string[];
    /** Words run before the program (a root helper such as `['sudo', '-n']`). */
    prefix?: readonly string[];
  },
  options: RunProcessOptions = {},
): Promise<ProcessOutcome> {
  const { program, packageName, args } = spec;
  if (!Array.isArray(args) || !args.every((a) => typeof a === 'string')) throw invalidArgument('an array of strings', 'args', args);
  const prefix = spec.prefix ?? [];
  if (!Array.isArray(prefix) || !prefix.every((a) => typeof a === 'string' && a !== '')) {
    throw invalidArgument('an array of non-empty strings', 'prefix', prefix);
  }
  const timeoutMs = checkMs('timeoutMs', options.timeoutMs ?? 0);
  const graceMs = checkMs('killGraceMs', options.killGraceMs ?? DEFAULT_KILL_GRACE_MS);
  const operation = options.operation ?? program;
  if (options.signal?.aborted) throw abortError(operation, { cause: options.signal.reason });

  const resolved = await findProgram(program, packageName);
  const limited = options.limits ? [await findProgram('prlimit', 'util-linux'), ...prlimitOptions(options.limits), '--'] : [];
  const command = [...limited, ...prefix, resolved, ...args];

  return new Promise<ProcessOutcome>((resolve, reject) => {
    const child = spawn(command[0] as string, command.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a stop reaches anything it forks.
      detached: true,
      // Programs' messages are matched by callers; keep them in English.
      env: { ...process.env, ...options.env, LC_ALL: 'C', LANG: 'C' },
    });
    let stdout = '';
    let stderr = '';
    let stoppedBy: 'timeout' | 'abort' | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      options.onStdout?.(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });

    const signalGroup = (sig: NodeJS.Signals): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    };
    const stop = (why: 'timeout' | 'abort'): void => {
      if (stoppedBy) return;
      stoppedBy = why;
      signalGroup('SIGTERM');
      killTimer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
    };
    const timer = timeoutMs > 0 ? setTimeout(() => stop('timeout'), timeoutMs) : undefined;
    const onAbort = (): void => stop('abort');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    // Aborted while the programs were being looked up: the event has passed.
    if (options.signal?.aborted) stop('abort');
    const cleanup = (): void => {
      if (timer) clearTimeout(timer);
      if (killTimer) clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
    };

    child.on('error', (error) => {
      cleanup();
      const message = `${operation} could not start: ${error.message}`;
      const details: ErrorDetails = { operation, cause: error };
      reject(options.startError ? options.startError(message, details) : new ImageIoError(message, details));
    });
    child.on('close', (exitCode, signal) => {
      cleanup();
      if (stoppedBy === 'abort') {
        reject(abortError(operation, { cause: options.signal?.reason }));
        return;
      }
      const resourceLimited =
        !stoppedBy &&
        options.limits !== undefined &&
        (signal === 'SIGKILL' || signal === 'SIGXCPU' || (exitCode !== 0 && LIMIT_PATTERNS.test(stderr)));
      resolve({ command, exitCode, signal, stdout, stderr, timedOut: stoppedBy === 'timeout', resourceLimited });
    });
  });
}

/**
 * The `process` details of an error about this outcome.
 *
 * @example
 * ```ts
 * throw new LvmError(describeOutcome('lvm lvs', outcome), { process: processFailure(outcome) });
 * ```
 */
export function processFailure(outcome: ProcessOutcome): ProcessFailure {
  return {
    command: outcome.command,
    exitCode: outcome.exitCode,
    signal: outcome.signal,
    stderr: outcome.stderr.trim(),
    resourceLimited: outcome.resourceLimited,
    timedOut: outcome.timedOut,
  };
}

/**
 * One wording for how a program failed: `<operation> timed out after N ms and
 * was stopped (killed by signal SIGTERM)`, `... was stopped by resource limits
 * (...), exit code 1`, `... was killed by signal SIGSEGV`, or `... failed with exit code 2`, then its stderr.
 *
 * @example
 * ```ts
 * describeOutcome('qemu-img info', outcome, 300_000, limits); // 'qemu-img info was killed by signal SIGKILL: ...'
 * ```
 */
export function describeOutcome(operation: string, outcome: ProcessOutcome, timeoutMs = 0, limits?: ResourceLimits): string {
  const how = outcome.signal ? `killed by signal ${outcome.signal}` : `exit code ${outcome.exitCode}`;
  let message: string;
  if (outcome.timedOut) message = `${operation} timed out after ${timeoutMs} ms and was stopped (${how})`;
  else if (outcome.resourceLimited && limits) message = `${operation} was stopped by resource limits (${describeLimits(limits)}), ${how}`;
  else if (outcome.signal) message = `${operation} was ${how}`;
  else message = `${operation} failed with ${how}`;
  const stderr = outcome.stderr.trim();
  return stderr ? `${message}: ${stderr}` : message;
}
