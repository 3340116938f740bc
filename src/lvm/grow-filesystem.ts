/**
 * Growing the ext2/3/4 file system of a raw disk to fill it, as nova's
 * `disk.resize2fs`: `e2fsck -fp` first, and `resize2fs` only if the check
 * passed. A disk without an ext file system at offset 0 (a partitioned
 * image, XFS, swap) is left alone.
 */
import { execFile } from 'node:child_process';
import { open } from 'node:fs/promises';

import { FilesystemResizeError, type ProcessFailure } from '../errors.js';
import { findProgram } from '../qemu/limits.js';

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

function run(program: string, argv: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; command: string[] }> {
  return new Promise((resolve) => {
    execFile(program, argv, { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 4 << 20 }, (error, _stdout, stderr) => {
      const e = error as (Error & { code?: number | string; signal?: NodeJS.Signals }) | null;
      const code = e ? (typeof e.code === 'number' ? e.code : null) : 0;
      resolve({ code, signal: e?.signal ?? null, stderr: String(stderr).trim(), command: [program, ...argv] });
    });
  });
}

/**
 * Checks (`e2fsck -fp`) and grows (`resize2fs`) the ext file system on a raw
 * disk to the disk's size. Resolves `{ grown: false, reason }` when there is
 * no ext file system or e2fsck ends with errors left (exit status 4 or more,
 * as nova skips the resize then); rejects with `FILESYSTEM_RESIZE_FAILED`
 * when resize2fs fails, `TOOL_NOT_FOUND` without e2fsprogs.
 *
 * @example
 * ```ts
 * const { grown, reason } = await growFilesystem('/dev/nova-vg/uuid_disk');
 * ```
 */
export async function growFilesystem(path: string): Promise<GrowFilesystemResult> {
  if (!(await hasExtFilesystem(path))) return { grown: false, reason: 'no ext2/3/4 file system at the start of the disk' };
  const e2fsck = await run(await findProgram('e2fsck', 'e2fsprogs'), ['-fp', path]);
  // 0: clean, 1: errors corrected, 2: corrected, reboot advised (not mounted here).
  if (e2fsck.code === null || e2fsck.code > 2) {
    return { grown: false, reason: `e2fsck -fp ended with ${e2fsck.signal ?? `exit status ${e2fsck.code}`}: ${e2fsck.stderr}` };
  }
  const resize = await run(await findProgram('resize2fs', 'e2fsprogs'), [path]);
  if (resize.code !== 0) {
    const process: ProcessFailure = {
      command: resize.command,
      exitCode: resize.code,
      signal: resize.signal,
      stderr: resize.stderr,
      resourceLimited: false,
      timedOut: false,
    };
    throw new FilesystemResizeError(`resize2fs ${path} failed: ${resize.stderr}`, {
      operation: 'growFilesystem',
      path,
      process,
    });
  }
  return { grown: true };
}
