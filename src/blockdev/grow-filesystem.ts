/**
 * Growing the ext2/3/4 file system of a raw disk to fill it, as nova's
 * `disk.resize2fs`: `e2fsck -fp` first, and `resize2fs` only if the check
 * passed. A disk without an ext file system at offset 0 (a partitioned
 * image, XFS, swap) is left alone.
 */
import { open } from 'node:fs/promises';

import { FilesystemResizeError } from '../errors.js';
import { describeOutcome, processFailure, runProcess, type ProcessOutcome } from '../process/runProcess.js';

/** What {@link growFilesystem} did. */
export interface GrowFilesystemResult {
  /** True when `resize2fs` grew the ext file system to the size of the disk. */
  grown: boolean;
  /** Why it was not grown: no ext file system, or e2fsck found errors it could not fix. */
  reason?: string;
}

// The ext superblock starts at byte 1024; its magic 0xEF53 is at offset 56.
const MAGIC_OFFSET = 1024 + 56;

async function hasExtFilesystem(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, MAGIC_OFFSET);
    return bytesRead === 2 && buf.readUInt16LE(0) === 0xef53;
  } finally {
    await fh.close();
  }
}

/** Options of {@link growFilesystem}. */
export interface GrowFilesystemOptions {
  /** Wall-clock limit of each of e2fsck and resize2fs in ms; default 30 minutes (a large file system), 0 for none. */
  timeoutMs?: number;
  /** Stops the running program (SIGTERM, then SIGKILL) and rejects with `ABORTED`. */
  signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 30 * 60_000;

function run(program: string, args: string[], options: GrowFilesystemOptions): Promise<ProcessOutcome> {
  const startError = (message: string, details: object) =>
    new FilesystemResizeError(message, { ...details, operation: 'growFilesystem' });
  return runProcess(
    { program, packageName: 'e2fsprogs', args },
    { operation: program, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, ...(options.signal ? { signal: options.signal } : {}), startError },
  );
}

/**
 * Checks (`e2fsck -fp`) and grows (`resize2fs`) the ext file system on a raw
 * disk to the disk's size. Resolves `{ grown: false, reason }` when there is
 * no ext file system or e2fsck ends with errors left (exit status 4 or more,
 * as nova skips the resize then, or it was stopped); rejects with
 * `FILESYSTEM_RESIZE_FAILED` when resize2fs fails or is stopped by a signal
 * or the timeout (`process` says how), `ABORTED` on abort, `TOOL_NOT_FOUND`
 * without e2fsprogs.
 *
 * @example
 * ```ts
 * const { grown, reason } = await growFilesystem('/dev/nova-vg/uuid_disk');
 * ```
 */
export async function growFilesystem(path: string, options: GrowFilesystemOptions = {}): Promise<GrowFilesystemResult> {
  if (!(await hasExtFilesystem(path))) return { grown: false, reason: 'no ext2/3/4 file system at the start of the disk' };
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const e2fsck = await run('e2fsck', ['-fp', path], options);
  // 0: clean, 1: errors corrected, 2: corrected, reboot advised (not mounted here).
  if (e2fsck.exitCode === null || e2fsck.exitCode > 2 || e2fsck.timedOut) {
    const ended = e2fsck.exitCode !== null && !e2fsck.timedOut;
    const reason = ended ? `e2fsck -fp ended with exit status ${e2fsck.exitCode}: ${e2fsck.stderr.trim()}` : describeOutcome('e2fsck -fp', e2fsck, timeoutMs);
    return { grown: false, reason };
  }
  const resize = await run('resize2fs', [path], options);
  if (resize.exitCode !== 0 || resize.timedOut) {
    throw new FilesystemResizeError(describeOutcome(`resize2fs ${path}`, resize, timeoutMs), {
      operation: 'growFilesystem',
      path,
      process: processFailure(resize),
    });
  }
  return { grown: true };
}
