/**
 * Crash-safe creation of RBD images: an import writes under a staging name
 * (`<name>.ib-staging-<random>`) and renames the image to its final name only
 * once every byte is in. A process killed half-way (SIGKILL, power loss)
 * leaves a staging image, never a partial image under the final name, so
 * `exists(name)` stays false and the next import starts over; that import
 * sweeps the leftovers of earlier ones. Staging names start with the final
 * name, so nova's instance clean-up (`cleanupVolumes(n => n.startsWith(uuid))`)
 * removes them too.
 */
import { randomBytes } from 'node:crypto';

import { RbdExistsError } from '../errors.js';
import { rbdCall } from './errors.js';
import type { RbdPool } from './RbdPool.js';

/** What a staging name adds between the final name and its random tail. */
export const STAGING_INFIX = '.ib-staging-';

/** A fresh staging name for an image that will be called `name`. */
export function stagingName(name: string): string {
  return `${name}${STAGING_INFIX}${randomBytes(4).toString('hex')}`;
}

/** Whether `candidate` is a staging name of `name` (and not of a longer name). */
export function isStagingOf(candidate: string, name: string): boolean {
  const prefix = name + STAGING_INFIX;
  return candidate.startsWith(prefix) && /^[0-9a-f]{8}$/.test(candidate.slice(prefix.length));
}

/**
 * Removes what earlier, interrupted imports of `name` left, and returns the
 * names removed. Best effort: a staging image still open by a live importer
 * has a watcher and is refused (`EBUSY`), and so is the leftover of a killed
 * process until Ceph drops its watch (`osd_client_watch_timeout`, 30 s); both
 * are left for a later sweep. Never touches anything but staging names.
 */
export async function sweepStaging(pool: RbdPool, name: string): Promise<string[]> {
  const { addon, handle } = pool.cluster.native;
  const leftovers = (await pool.list()).filter((n) => isStagingOf(n, name));
  const removed: string[] = [];
  for (const leftover of leftovers) {
    try {
      await addon.rbdRemove(handle, pool.name, leftover);
      removed.push(leftover);
    } catch {
      // busy (a live importer, or a dead one's watch not yet expired) or already gone
    }
  }
  return removed;
}

/** The error an import into a taken name rejects with, before any byte is written. */
export function nameTaken(pool: RbdPool, name: string, operation: string): RbdExistsError {
  return new RbdExistsError(`${operation} failed: image ${pool.name}/${name} already exists`, {
    operation,
    pool: pool.name,
    image: name,
    errno: -17,
    errnoName: 'EEXIST',
  });
}

/**
 * Gives the complete staging image its final name. If the name was taken
 * meanwhile, the staging image is removed and {@link RbdExistsError} thrown:
 * an existing image is never replaced.
 */
export async function commitStaged(pool: RbdPool, staging: string, name: string, operation: string): Promise<void> {
  const { addon, handle } = pool.cluster.native;
  try {
    await rbdCall(operation, () => addon.rbdRename(handle, pool.name, staging, name));
  } catch (error) {
    await discardStaged(pool, staging);
    if (error instanceof RbdExistsError) throw nameTaken(pool, name, operation);
    throw error;
  }
}

/**
 * Removes a staging image after a failure. Errors are swallowed: the caller
 * reports the failure that got it here, and a leftover is only a staging
 * image (never taken for the real one) that the next import sweeps.
 */
export async function discardStaged(pool: RbdPool, staging: string): Promise<void> {
  const { addon, handle } = pool.cluster.native;
  await addon.rbdRemove(handle, pool.name, staging).catch(() => undefined);
}
