// Provisioning 100 instance disks on the rbd backend, the image in Glance's
// rbd store of the same cluster: the library's Backend — 100 concurrent
// image(...).cache({ clone }) calls in one process over its one connection —
// against its floors and against nova itself.
//
// Two cases, side by side in one run (issue 10: provisioning within 1.2× of
// what its parts cost):
// - each disk grown to the flavor's size (2 GiB from the 1 GiB image), the
//   usual case: against 100 bare concurrent RbdImage.clone() + resize()
//   calls. Growing a clone opens it and its parent in librbd (each open
//   builds an image context with its own copy of the client's configuration,
//   most of a clone's CPU on this 2-core machine), takes its exclusive lock
//   and resizes its object map: a grown clone costs about two bare clones.
// - each disk at the image's size (nothing to grow): against 100 bare
//   concurrent RbdImage.clone() calls.
// And against Debian's python3-nova running nova.virt.libvirt.imagebackend's
// Rbd backend through bench/nova/provision.py (the driver's
// clone_fallback_to_fetch: Rbd.clone -> RBDDriver.is_cloneable/clone, then
// verify_base_size and resize; every RBDDriver call on a new connection, as
// nova makes them), grown as ours.
//
// nova runs the builds one at a time and, as nova-compute does with its
// default max_concurrent_builds, ten at once as greenthreads (eventlet
// monkey-patched; its librbd calls go through tpool). Both sides act as the
// restricted compute user; each disk is a clone of the 1 GiB protected base
// snapshot. Nothing is downloaded on either side; the image service is a
// stand-in answering the image's location on both sides.
import { join } from 'node:path';

import { novaRbdConfig, pools, rbdBackend, rbdBase, rbdInfo, removeImages } from './lib/ceph.mjs';
import { GiB } from './lib/files.mjs';
import { compareRow, measure, repsFor } from './lib/harness.mjs';
import { NOVA_MAX_CONCURRENT_BUILDS, novaCases, novaProvision } from './lib/nova.mjs';

const COUNT = 100;
const DISK_SIZE = 2 * GiB;
// The base snapshot's size (bench/lib/ceph.mjs rbdBase): a disk of this size needs no grow.
const IMAGE_SIZE = GiB;
const IMAGE_ID = 'bench-provision-rbd-image';

export default {
  name: 'provision-rbd',
  order: 75,
  needs: ['ceph', 'nova'],
  async run(ctx) {
    const { cacheFileName } = ctx.lib;
    const { vms } = pools(ctx);
    const base = await rbdBase(ctx);
    const imageMeta = {
      id: IMAGE_ID,
      disk_format: 'raw',
      locations: [{ url: `rbd://${ctx.ceph.env.CEPH_FSID}/${base.pool}/${base.image}/${base.snapshot}` }],
    };
    const filename = cacheFileName(IMAGE_ID);
    const backend = rbdBackend(ctx, join(ctx.work, 'provision-rbd-instances'), imageMeta);
    const fetch = async () => {
      throw new Error('provision-rbd bench: the base was fetched; every disk should be a clone');
    };
    const uuids = (key, i) => Array.from({ length: COUNT }, (_, j) => `${key}-${i}-${j}`);
    const cacheOne = (uuid, size = DISK_SIZE) => backend.image({ uuid }, 'disk').cache({ fetch, filename, imageId: IMAGE_ID, size, clone: { context: {} } });
    const novaConfig = novaRbdConfig(ctx, {
      instancesPath: join(ctx.work, 'provision-rbd-nova-instances'),
      imageId: IMAGE_ID,
      size: DISK_SIZE,
      imageMeta,
      count: COUNT,
    });

    try {
      // One disk from each side, checked with the rbd CLI: a clone of the base snapshot, grown (and one of ours at the image's size).
      await cacheOne('check-ours');
      await cacheOne('check-same', IMAGE_SIZE);
      await novaProvision(novaConfig('check', 'nova', 1, 1));
      const checks = { 'check-ours_disk': DISK_SIZE, 'check-same_disk': IMAGE_SIZE, 'check-nova-0_disk': DISK_SIZE };
      for (const [volume, size] of Object.entries(checks)) {
        const info = await rbdInfo(ctx, volume);
        if (info.size !== size || info.parent?.image !== base.image || info.parent?.snapshot !== base.snapshot) {
          throw new Error(`provision-rbd bench: ${volume} is not a ${size}-byte clone of the base: ${JSON.stringify(info)}`);
        }
      }
      await removeImages(ctx, vms, Object.keys(checks));

      const volumes = (key, i) => uuids(key, i).map((u) => `${u}_disk`);
      const dropAll = (key) => (i) => removeImages(ctx, vms, volumes(key, i));
      const parent = ctx.ceph.compute.pool(base.pool).image(base.image);
      const bareClones = (i) => Promise.all(volumes('bare', i).map((n) => parent.clone(base.snapshot, ctx.ceph.compute.pool(vms), n)));
      // What every grown disk needs (nova's too: Rbd.resize after the clone): a clone, then its grow.
      const bareGrown = (i) =>
        Promise.all(
          volumes('bare-grown', i).map(async (n) => {
            await parent.clone(base.snapshot, ctx.ceph.compute.pool(vms), n);
            await ctx.ceph.compute.pool(vms).image(n).resize(DISK_SIZE);
          }),
        );
      const novaStartup = [];
      const floorReps = repsFor(ctx, { full: 7, quick: 1 });
      const stats = await measure(
        [
          // The library and its floors take a few seconds a sample and move by ±20 % between samples: more
          // samples of them than of nova's (half a minute each) keep their ratios from resting on one outlier.
          { key: 'ours', fn: (i) => Promise.all(uuids('ours', i).map((u) => cacheOne(u))), teardown: dropAll('ours'), reps: floorReps },
          { key: 'bare-grown', fn: bareGrown, teardown: dropAll('bare-grown'), reps: floorReps },
          {
            key: 'ours-image-size',
            fn: (i) => Promise.all(uuids('ours-image-size', i).map((u) => cacheOne(u, IMAGE_SIZE))),
            teardown: dropAll('ours-image-size'),
            reps: floorReps,
          },
          { key: 'bare', fn: bareClones, teardown: dropAll('bare'), reps: floorReps },
          ...novaCases((key, i, workers) => novaConfig(key, i, workers), dropAll, novaStartup),
        ],
        { reps: repsFor(ctx, { full: 3, quick: 1 }), warmup: 0 },
      );
      const grownRatio = stats.ours.median / stats['bare-grown'].median;
      const sameSizeRatio = stats['ours-image-size'].median / stats.bare.median;
      const verdict = (ratio) => `${ratio.toFixed(2)}×; target ≤ 1.2×: ${ratio <= 1.2 ? 'met' : 'MISSED'}`;
      process.stderr.write(
        `[bench] provision-rbd: grown ${stats.ours.median.toFixed(1)} ms against bare clones grown ${stats['bare-grown'].median.toFixed(1)} ms ` +
          `(${verdict(grownRatio)}); at the image's size ${stats['ours-image-size'].median.toFixed(1)} ms against bare clones ` +
          `${stats.bare.median.toFixed(1)} ms (${verdict(sameSizeRatio)})\n`,
      );
      const { 'ours-image-size': sameSize, bare, ...grown } = stats;
      // ours at most 1.2× the floor: speedup = floor / ours ≥ 0.83.
      const floorTarget = { speedup: 0.83 };
      return [
        compareRow({
          group: 'provision-rbd',
          operation: `provision ${COUNT} instance disks from one image (rbd, cloned, grown to the flavor's size)`,
          stats: grown,
          labels: {
            ours: `${COUNT} × Backend image().cache({ clone }) at once`,
            'bare-grown': `the floor: ${COUNT} × (RbdImage.clone() + resize()) at once (no lookup, no checks)`,
            nova: `nova 26.2.2's Rbd backend (python3-nova), ${COUNT} builds in turn`,
            'nova-builds': `the same, ${NOVA_MAX_CONCURRENT_BUILDS} builds at once (max_concurrent_builds, eventlet)`,
          },
          targets: { 'bare-grown': floorTarget, 'nova-builds': { speedup: 20 } },
          context: `clones of a protected ${IMAGE_SIZE / GiB} GiB snapshot grown to ${DISK_SIZE / GiB} GiB, compute user; Glance's HTTP call not counted on either side; nova's start-up (not counted) ≈ ${novaStartup[0] ?? '?'} ms`,
          details: { count: COUNT, diskSize: DISK_SIZE, novaMaxConcurrentBuilds: NOVA_MAX_CONCURRENT_BUILDS, novaStartupMs: novaStartup, floorRatio: grownRatio, floorTarget: 1.2 },
        }),
        compareRow({
          group: 'provision-rbd',
          operation: `provision ${COUNT} instance disks from one image at its size (rbd, cloned, nothing to grow)`,
          stats: { ours: sameSize, bare },
          labels: {
            ours: `${COUNT} × Backend image().cache({ clone }) at once`,
            bare: `the floor: ${COUNT} × RbdImage.clone() at once (no lookup, no checks)`,
          },
          targets: { bare: floorTarget },
          context: `clones of a protected ${IMAGE_SIZE / GiB} GiB snapshot, disks of ${IMAGE_SIZE / GiB} GiB, compute user; measured in the same run as the row above`,
          details: { count: COUNT, diskSize: IMAGE_SIZE, floorRatio: sameSizeRatio, floorTarget: 1.2 },
        }),
      ];
    } finally {
      await backend.close();
    }
  },
};
