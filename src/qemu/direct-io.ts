/**
 * Whether files in a directory can be opened with O_DIRECT, nova's
 * `supports_direct_io`: qemu-img's `-t none` needs it, and tmpfs (before
 * Linux 6.6) and some FUSE or network filesystems refuse it.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Probes `dir` by creating and removing a temporary file opened with O_DIRECT.
 * Any failure (EINVAL from the filesystem, or no permission to create) is
 * reported as false, so the caller falls back to a cache mode that works.
 *
 * @example
 * ```ts
 * const cache = (await supportsDirectIo('/var/lib/nova/instances')) ? 'none' : 'writeback';
 * ```
 */
export async function supportsDirectIo(dir: string): Promise<boolean> {
  const probe = join(dir, `.directio.test.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    const handle = await open(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_DIRECT, 0o600);
    await handle.close();
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { force: true });
  }
}
