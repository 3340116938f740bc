// Provisioning 100 instance disks on the rbd backend, the image in Glance's
// rbd store of the same cluster: the library's Backend — 100 concurrent
// image(...).cache({ clone }) calls in one process over its one connection —
// against its floor, 100 bare concurrent RbdImage.clone() calls (target: ours
// ≤ 1.2× that, issue 10; ours also grows each clone to the flavor's size), and
// against nova itself: Debian's python3-nova running
// nova.virt.libvirt.imagebackend's Rbd backend through
// bench/nova/provision.py (the driver's clone_fallback_to_fetch: Rbd.clone ->
// RBDDriver.is_cloneable/clone, then verify_base_size and resize; every
// RBDDriver call on a new connection, as nova makes them).
//
// nova runs the builds one at a time and, as nova-compute does with its
// default max_concurrent_builds, ten at once as greenthreads (eventlet
// monkey-patched; its librbd calls go through tpool). Both sides act as the
// restricted compute user; each disk is a clone of the 1 GiB protected base
// snapshot, grown to 2 GiB. Nothing is downloaded on either side; the image
// service is a stand-in answering the image's location on both sides.
import { join } from 'node:path';

import { cephArgs, pools, rbdBase, removeImages } from './lib/ceph.mjs';
import { GiB } from './lib/files.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';
import { NOVA_MAX_CONCURRENT_BUILDS, novaCases, novaProvision } from './lib/nova.mjs';

const COUNT = 100;
const DISK_SIZE = 2 * GiB;
const IMAGE_ID = 'bench-provision-rbd-image';

export default {
  name: 'provision-rbd',
  order: 75,
  needs: ['ceph', 'nova'],
  async run(ctx) {
    const { Backend, cacheFileName } = ctx.lib;
    const { vms } = pools(ctx);
    const base = await rbdBase(ctx);
    const env = ctx.ceph.env;
    const imageMeta = {
      id: IMAGE_ID,
      disk_format: 'raw',
      locations: [{ url: `rbd://${env.CEPH_FSID}/${base.pool}/${base.image}/${base.snapshot}` }],
    };
    const instancesPath = join(ctx.work, 'provision-rbd-instances');
    const filename = cacheFileName(IMAGE_ID);
    const backend = new Backend({
      instancesPath,
      imagesType: 'rbd',
      imageService: { get: async () => imageMeta },
      rbd: { pool: vms, cephConf: env.CEPH_CONF, user: env.CEPH_CLIENT_USER, keyring: env.CEPH_CLIENT_KEYRING },
    });
    const fetch = async () => {
      throw new Error('provision-rbd bench: the base was fetched; every disk should be a clone');
    };
    const name = (key, i, j) => `${key}-${i}-${j}`;
    const uuids = (key, i) => Array.from({ length: COUNT }, (_, j) => name(key, i, j));
    const cacheOne = (uuid) => backend.image({ uuid }, 'disk').cache({ fetch, filename, imageId: IMAGE_ID, size: DISK_SIZE, clone: { context: {} } });
    const novaInstances = join(ctx.work, 'provision-rbd-nova-instances');
    const novaConfig = (key, i, workers, count = COUNT) => ({
      instances_path: novaInstances,
      images_type: 'rbd',
      image_id: IMAGE_ID,
      size: DISK_SIZE,
      count,
      prefix: `${key}-${i}`,
      workers,
      image_meta: imageMeta,
      rbd: { pool: vms, conf: env.CEPH_CONF, user: env.CEPH_CLIENT_USER },
    });

    try {
      // One disk from each side, checked with the rbd CLI: a clone of the base snapshot, grown.
      await cacheOne('check-ours');
      await novaProvision(novaConfig('check', 'nova', 1, 1));
      for (const volume of ['check-ours_disk', 'check-nova-0_disk']) {
        const info = JSON.parse((await run('rbd', ['info', '--format', 'json', `${vms}/${volume}`, ...cephArgs(ctx)])).stdout);
        if (info.size !== DISK_SIZE || info.parent?.image !== base.image || info.parent?.snapshot !== base.snapshot) {
          throw new Error(`provision-rbd bench: ${volume} is not a ${DISK_SIZE}-byte clone of the base: ${JSON.stringify(info)}`);
        }
      }
      await removeImages(ctx, vms, ['check-ours_disk', 'check-nova-0_disk']);

      const volumes = (key, i) => uuids(key, i).map((u) => `${u}_disk`);
      const dropAll = (key) => (i) => removeImages(ctx, vms, volumes(key, i));
      const parent = ctx.ceph.compute.pool(base.pool).image(base.image);
      const bareClones = (i) => Promise.all(volumes('bare', i).map((n) => parent.clone(base.snapshot, ctx.ceph.compute.pool(vms), n)));
      // The floor of what every disk needs: a clone grown to the flavor's size. Growing a clone opens it (and
      // its parent) in librbd, takes its exclusive lock and resizes its object map: as many OSD round trips
      // as the clone itself. nova grows every disk the same way (Rbd.resize after the clone).
      const bareGrown = (i) =>
        Promise.all(
          volumes('bare-grown', i).map(async (n) => {
            await parent.clone(base.snapshot, ctx.ceph.compute.pool(vms), n);
            await ctx.ceph.compute.pool(vms).image(n).resize(DISK_SIZE);
          }),
        );
      const novaStartup = [];
      const stats = await measure(
        [
          { key: 'ours', fn: (i) => Promise.all(uuids('ours', i).map(cacheOne)), teardown: dropAll('ours') },
          { key: 'bare', fn: bareClones, teardown: dropAll('bare') },
          { key: 'bare-grown', fn: bareGrown, teardown: dropAll('bare-grown') },
          ...novaCases((key, i, workers) => novaConfig(key, i, workers), dropAll, novaStartup),
        ],
        { reps: repsFor(ctx, { full: 3, quick: 1 }), warmup: 0 },
      );
      const floorRatio = stats.ours.median / stats.bare.median;
      const grownRatio = stats.ours.median / stats['bare-grown'].median;
      process.stderr.write(
        `[bench] provision-rbd: ours ${stats.ours.median.toFixed(1)} ms, bare clones ${stats.bare.median.toFixed(1)} ms ` +
          `(${floorRatio.toFixed(2)}×; target ≤ 1.2×: ${floorRatio <= 1.2 ? 'met' : 'MISSED'}), bare clones grown ` +
          `${stats['bare-grown'].median.toFixed(1)} ms (${grownRatio.toFixed(2)}×)\n`,
      );
      return [
        compareRow({
          group: 'provision-rbd',
          operation: `provision ${COUNT} instance disks from one image (rbd, cloned)`,
          stats,
          labels: {
            ours: `${COUNT} × Backend image().cache({ clone }) at once`,
            bare: `the floor: ${COUNT} × RbdImage.clone() at once (no lookup, no checks, no grow)`,
            'bare-grown': `the floor with the grow: ${COUNT} × (RbdImage.clone() + resize()) at once`,
            nova: `nova 26.2.2's Rbd backend (python3-nova), ${COUNT} builds in turn`,
            'nova-builds': `the same, ${NOVA_MAX_CONCURRENT_BUILDS} builds at once (max_concurrent_builds, eventlet)`,
          },
          // bare, bare-grown: ours at most 1.2× the floor (speedup = floor / ours ≥ 0.83).
          targets: { bare: { speedup: 0.83 }, 'bare-grown': { speedup: 0.83 }, 'nova-builds': { speedup: 20 } },
          context: `clones of a protected 1 GiB snapshot grown to ${DISK_SIZE / GiB} GiB, compute user; Glance's HTTP call not counted on either side; nova's start-up (not counted) ≈ ${novaStartup[0] ?? '?'} ms`,
          details: { count: COUNT, diskSize: DISK_SIZE, novaMaxConcurrentBuilds: NOVA_MAX_CONCURRENT_BUILDS, novaStartupMs: novaStartup, floorRatio, grownRatio, floorTarget: 1.2 },
        }),
      ];
    } finally {
      await backend.close();
    }
  },
};
