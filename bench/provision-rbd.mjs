// Provisioning 100 instance disks on the rbd backend, the image in Glance's
// rbd store of the same cluster: the library's Backend — 100 concurrent
// image(...).cache({ clone }) calls in one process over its one connection —
// against its floor, 100 bare concurrent RbdImage.clone() calls (target: ours
// ≤ 1.2× that, issue 10; ours also grows each clone to the flavor's size), and
// against nova's module, mirrored in bench/python/nova_rbd.py (op
// provision_many): per disk backend.exists(), Image.cache, Rbd.create_image
// with clone_fallback_to_fetch (get_fsid, exists on the snapshot, clone),
// verify_base_size and resize, every call on a new connection (ten per disk).
//
// Python runs the builds one at a time and, as nova-compute does with its
// default max_concurrent_builds, ten at once in threads. Both sides act as the
// restricted compute user; each disk is a clone of the 1 GiB protected base
// snapshot, grown to 2 GiB. Nothing is downloaded on either side.
import { join } from 'node:path';

import { cephArgs, pools, rbdBase, removeImages } from './lib/ceph.mjs';
import { GiB } from './lib/files.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';

const COUNT = 100;
const DISK_SIZE = 2 * GiB;
const NOVA_MAX_CONCURRENT_BUILDS = 10;
const IMAGE_ID = 'bench-provision-rbd-image';

export default {
  name: 'provision-rbd',
  order: 75,
  needs: ['ceph', 'python'],
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
    const py = ctx.python();
    const pyCommand = (names, workers) => ({
      op: 'provision_many',
      pool: vms,
      size: DISK_SIZE,
      base: join(instancesPath, '_base', filename),
      lock_path: ctx.work,
      image_meta: imageMeta,
      names,
      workers,
    });

    try {
      // One disk from each side, checked with the rbd CLI: a clone of the base snapshot, grown.
      await cacheOne('check-ours');
      await py.request(pyCommand(['check-python_disk'], 1));
      for (const volume of ['check-ours_disk', 'check-python_disk']) {
        const info = JSON.parse((await run('rbd', ['info', '--format', 'json', `${vms}/${volume}`, ...cephArgs(ctx)])).stdout);
        if (info.size !== DISK_SIZE || info.parent?.image !== base.image || info.parent?.snapshot !== base.snapshot) {
          throw new Error(`provision-rbd bench: ${volume} is not a ${DISK_SIZE}-byte clone of the base: ${JSON.stringify(info)}`);
        }
      }
      await removeImages(ctx, vms, ['check-ours_disk', 'check-python_disk']);

      const volumes = (key, i) => uuids(key, i).map((u) => `${u}_disk`);
      const dropAll = (key) => (i) => removeImages(ctx, vms, volumes(key, i));
      const parent = ctx.ceph.compute.pool(base.pool).image(base.image);
      const bareClones = (i) => Promise.all(volumes('bare', i).map((n) => parent.clone(base.snapshot, ctx.ceph.compute.pool(vms), n)));
      const stats = await measure(
        [
          { key: 'ours', fn: (i) => Promise.all(uuids('ours', i).map(cacheOne)), teardown: dropAll('ours') },
          { key: 'bare', fn: bareClones, teardown: dropAll('bare') },
          {
            key: 'python',
            selfTimed: true,
            fn: (i) => py.timed(pyCommand(volumes('python', i), 1)),
            teardown: dropAll('python'),
          },
          {
            key: 'python-builds',
            selfTimed: true,
            fn: (i) => py.timed(pyCommand(volumes('python-builds', i), NOVA_MAX_CONCURRENT_BUILDS)),
            teardown: dropAll('python-builds'),
          },
        ],
        { reps: repsFor(ctx, { full: 3, quick: 1 }), warmup: repsFor(ctx, { full: 1, quick: 0 }) },
      );
      const floorRatio = stats.ours.median / stats.bare.median;
      process.stderr.write(
        `[bench] provision-rbd: ours ${stats.ours.median.toFixed(1)} ms, bare clones ${stats.bare.median.toFixed(1)} ms: ` +
          `${floorRatio.toFixed(2)}× the floor (target ≤ 1.2×: ${floorRatio <= 1.2 ? 'met' : 'MISSED'})\n`,
      );
      return [
        compareRow({
          group: 'provision-rbd',
          operation: `provision ${COUNT} instance disks from one image (rbd, cloned)`,
          stats,
          labels: {
            ours: `${COUNT} × Backend image().cache({ clone }) at once`,
            bare: `the floor: ${COUNT} × RbdImage.clone() at once (no lookup, no checks, no grow)`,
            python: `nova's Rbd backend in Python, ${COUNT} builds in turn (10 connections per disk)`,
            'python-builds': `the same, ${NOVA_MAX_CONCURRENT_BUILDS} builds at once (max_concurrent_builds)`,
          },
          // bare: ours at most 1.2× the floor (speedup = floor / ours ≥ 0.83).
          targets: { bare: { speedup: 0.83 }, python: { speedup: 10 }, 'python-builds': { speedup: 10 } },
          context: `clones of a protected 1 GiB snapshot grown to ${DISK_SIZE / GiB} GiB, compute user; Glance's HTTP call not counted on either side`,
          details: { count: COUNT, diskSize: DISK_SIZE, novaMaxConcurrentBuilds: NOVA_MAX_CONCURRENT_BUILDS, floorRatio, floorTarget: 1.2 },
        }),
      ];
    } finally {
      await backend.close();
    }
  },
};
