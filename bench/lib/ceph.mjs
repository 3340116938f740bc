// Ceph helpers shared by the RBD groups. The compute side always acts as the
// restricted `compute` user (rbd in `vms`, read-only in `images`), as nova's
// compute service would; the image-service side (the base snapshot) as admin.
import { GiB } from './files.mjs';
import { run } from './harness.mjs';

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

/**
 * The library's rbd Backend on the bench cluster's `vms` pool as the compute
 * user, its image service a stand-in answering `get()` with `imageMeta`
 * (Glance's HTTP call is counted on neither side of the provisioning rows).
 */
export function rbdBackend(ctx, instancesPath, imageMeta) {
  const env = ctx.ceph.env;
  return new ctx.lib.Backend({
    instancesPath,
    imagesType: 'rbd',
    imageService: { get: async () => imageMeta },
    rbd: { pool: pools(ctx).vms, cephConf: env.CEPH_CONF, user: env.CEPH_CLIENT_USER, keyring: env.CEPH_CLIENT_KEYRING },
  });
}

/**
 * The configuration bench/nova/provision.py takes for nova's Rbd backend on
 * the same pool and user, as a function of the sample (`key`, `i`), the
 * number of builds at once and of disks; `extra` adds fields (a `source`
 * file for the download nova makes when it cannot clone).
 */
export function novaRbdConfig(ctx, { instancesPath, imageId, size, imageMeta, count, extra = {} }) {
  const env = ctx.ceph.env;
  return (key, i, workers, disks = count) => ({
    instances_path: instancesPath,
    images_type: 'rbd',
    image_id: imageId,
    size,
    count: disks,
    prefix: `${key}-${i}`,
    workers,
    image_meta: imageMeta,
    rbd: { pool: pools(ctx).vms, conf: env.CEPH_CONF, user: env.CEPH_CLIENT_USER },
    ...extra,
  });
}

/** `rbd info` of a volume in `vms`, through the CLI as the compute user: a check made without the library. */
export async function rbdInfo(ctx, volume) {
  const { stdout } = await run('rbd', ['info', '--format', 'json', `${pools(ctx).vms}/${volume}`, ...cephArgs(ctx)]);
  return JSON.parse(stdout);
}
