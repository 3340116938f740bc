// Ceph helpers shared by the RBD groups. The compute side always acts as the
// restricted `compute` user (rbd in `vms`, read-only in `images`), as nova's
// compute service would; the image-service side (the base snapshot) as admin.
import { GiB } from './files.mjs';

/** argv that points a Ceph CLI at the bench cluster as the compute user (nova's ceph_args()). */
export function cephArgs(ctx) {
  return ['--id', ctx.ceph.env.CEPH_CLIENT_USER, '--conf', ctx.ceph.env.CEPH_CONF];
}

export function pools(ctx) {
  return { images: ctx.ceph.env.CEPH_POOL_IMAGES, vms: ctx.ceph.env.CEPH_POOL_VMS };
}

let base;
/**
 * A 1 GiB image in `images` with a protected snapshot, as Glance leaves it:
 * the parent every clone group clones from. Made once per run.
 */
export function rbdBase(ctx) {
  base ??= (async () => {
    const pool = pools(ctx).images;
    const image = ctx.ceph.admin.pool(pool).image('bench-base');
    await image.create(GiB);
    await image.createSnapshot('snap');
    await image.protectSnapshot('snap');
    return { pool, image: 'bench-base', snapshot: 'snap' };
  })();
  return base;
}

/** Removes images (untimed cleanup between runs), a few at a time. */
export async function removeImages(ctx, pool, names) {
  const p = ctx.ceph.admin.pool(pool);
  const queue = [...names];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let n; (n = queue.shift()) !== undefined; ) await p.image(n).remove();
    }),
  );
}
