/**
 * Crash-safe file placement: data is written to a temporary file in the same
 * folder, flushed with fsync, moved over the final name with rename(2) (atomic
 * on one filesystem) and the folder itself is fsynced so the new directory
 * entry survives a power cut. A reader sees the old content or the new, never
 * a torn mix.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Flushes a folder's entries (created, renamed or removed names) to disk.
 *
 * @example
 * ```ts
 * await rename(tmp, final);
 * await fsyncDir(dirname(final));
 * ```
 */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Flushes a file's data and metadata to disk.
 *
 * @example
 * ```ts
 * await fsyncFile('/var/lib/nova/instances/_base/abc.part-1f2e');
 * ```
 */
export async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A name for a temporary sibling of `path`: `<name><infix><random hex>`. */
export function tempSibling(path: string, infix: string): string {
  return join(dirname(path), `${basename(path)}${infix}${randomBytes(6).toString('hex')}`);
}

/**
 * Replaces `path` with `data` atomically (temp file, fsync, rename, fsync of the
 * folder). On failure the temporary file is removed and `path` is untouched.
 *
 * @example
 * ```ts
 * await writeFileAtomic('/var/lib/nova/instances/uuid/disk.info', '{"/var/lib/nova/instances/uuid/disk": "qcow2"}\n');
 * ```
 */
export async function writeFileAtomic(path: string, data: string, mode = 0o644): Promise<void> {
  const tmp = tempSibling(path, '.tmp-');
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      // open's mode passes through the umask (lvm2's in-process runner sets 077): make it exact.
      await fh.chmod(mode);
      await fh.writeFile(data, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw error;
  }
  await fsyncDir(dirname(path));
}
