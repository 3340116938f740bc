/**
 * Clones given up at their deadline. A clone that rejected with
 * `RBD_TIMEOUT` may still be finished by librbd once the cluster answers
 * again; its caller was told it failed (and may retry, or clean up and move
 * on), so the image it makes is removed as soon as librbd reports it made.
 * A clone into the same name through the same connection first waits for
 * that (within its own bound), so a retry never takes the
 * abandoned clone, finished or half-made, for its disk: it makes its own.
 *
 * Clones are made under their final name, as librbd and nova make them:
 * staging them under another name and renaming them into place would open
 * each one (and its parent) once more in librbd, the largest part of a
 * clone's cost (see the README's provisioning figures).
 */
import type { RbdCluster } from './RbdCluster.js';
import type { RbdPool } from './RbdPool.js';

// Per connection, by "pool/name": the removal of an abandoned clone's image, settled once librbd has answered.
const pending = new WeakMap<RbdCluster, Map<string, Promise<void>>>();

/**
 * Records a clone into `pool`/`name` abandoned at its deadline: `late` is
 * the native call, which settles if and when librbd answers. When it
 * succeeds, the image it made is removed (best effort: an image someone
 * already opened is busy and stays; it is a complete clone).
 */
export function removeWhenLanded(pool: RbdPool, name: string, late: Promise<unknown>): void {
  let byName = pending.get(pool.cluster);
  if (!byName) pending.set(pool.cluster, (byName = new Map()));
  const key = `${pool.name}/${name}`;
  const { addon, handle } = pool.cluster.native;
  const settled: Promise<void> = late
    .then(
      () => addon.rbdRemove(handle, pool.name, name),
      () => undefined, // librbd gave up too: nothing was made
    )
    .catch(() => undefined)
    .finally(() => {
      if (byName.get(key) === settled) byName.delete(key);
    });
  byName.set(key, settled);
}

/**
 * The removal still pending for an abandoned clone into `pool`/`name` on
 * this connection, if any. A clone into that name awaits it inside its own
 * bounded call, so the wait and the clone share one deadline.
 */
export function lateClone(pool: RbdPool, name: string): Promise<void> | undefined {
  return pending.get(pool.cluster)?.get(`${pool.name}/${name}`);
}
