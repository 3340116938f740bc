// Provisioning 100 rbd instance disks when the image is NOT cloneable in this
// cluster (its location is another cluster's): nova's import fallback. The
// library's Backend — 100 concurrent image(...).cache({ clone }) calls —
// against nova itself (Debian's python3-nova, bench/nova/provision.py):
// clone_fallback_to_fetch finds no cloneable location, downloads the base
// once into <instances>/_base under the base's lock, and every disk is then
// `rbd import`ed from that file (Rbd.create_image -> RBDDriver.import_image),
// checked (verify_base_size) and grown to the flavor size. One build at a
// time, and ten at once (max_concurrent_builds).
//
// The base (64 MiB raw, 10 % data) is downloaded once per side before timing
// (a local copy stands in for Glance on both sides); the timed runs find it
// cached. Both sides act as the restricted compute user.
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';

import { novaRbdConfig, pools, rbdBackend, rbdInfo, removeImages } from './lib/ceph.mjs';
import { GiB, MiB, makeRawFile } from './lib/files.mjs';
import { compareRow, measure, repsFor } from './lib/harness.mjs';
import { NOVA_MAX_CONCURRENT_BUILDS, novaCases, novaProvision } from './lib/nova.mjs';

const COUNT = 100;
const BASE_SIZE = 64 * MiB;
const DISK_SIZE = GiB;
const IMAGE_ID = 'bench-provision-rbd-import-image';

export default {
  name: 'provision-rbd-import',
  order: 76,
  needs: ['ceph', 'nova'],
  async run(ctx) {
    const { cacheFileName } = ctx.lib;
    const { vms, images } = pools(ctx);
    const source = await makeRawFile(join(ctx.work, 'provision-rbd-import-source.raw'), BASE_SIZE, 0.1);
    // A location in another cluster: nova's is_cloneable says no (fsid differs).
    const imageMeta = { id: IMAGE_ID, disk_format: 'raw', locations: [{ url: `rbd://not-this-cluster/${images}/${IMAGE_ID}/snap` }] };
    const filename = cacheFileName(IMAGE_ID);
    const backend = rbdBackend(ctx, join(ctx.work, 'provision-rbd-import-instances'), imageMeta);
    let fetches = 0;
    const fetch = async ({ target }) => {
      fetches++;
      await copyFile(source, target);
    };
    const uuids = (key, i) => Array.from({ length: COUNT }, (_, j) => `${key}-${i}-${j}`);
    const cacheOne = (uuid) => backend.image({ uuid }, 'disk').cache({ fetch, filename, imageId: IMAGE_ID, size: DISK_SIZE, clone: { context: {} } });
    const novaConfig = novaRbdConfig(ctx, {
      instancesPath: join(ctx.work, 'provision-rbd-import-nova-instances'),
      imageId: IMAGE_ID,
      size: DISK_SIZE,
      imageMeta,
      count: COUNT,
      extra: { source },
    });

    try {
      // One disk from each side (this also downloads each side's base once), checked: imported, not a clone, grown.
      await cacheOne('check-ours');
      await novaProvision(novaConfig('check', 'nova', 1, 1));
      for (const volume of ['check-ours_disk', 'check-nova-0_disk']) {
        const info = await rbdInfo(ctx, volume);
        if (info.size !== DISK_SIZE || info.parent) {
          throw new Error(`provision-rbd-import bench: ${volume} is not a ${DISK_SIZE}-byte imported image: ${JSON.stringify(info)}`);
        }
      }
      await removeImages(ctx, vms, ['check-ours_disk', 'check-nova-0_disk']);

      const dropAll = (key) => (i) => removeImages(ctx, vms, uuids(key, i).map((u) => `${u}_disk`));
      const novaStartup = [];
      const stats = await measure(
        [
          { key: 'ours', fn: (i) => Promise.all(uuids('ours', i).map(cacheOne)), teardown: dropAll('ours') },
          ...novaCases((key, i, workers) => novaConfig(key, i, workers), dropAll, novaStartup),
        ],
        { reps: repsFor(ctx, { full: 3, quick: 1 }), warmup: 0 },
      );
      if (fetches !== 1) throw new Error(`provision-rbd-import bench: the base was fetched ${fetches} times, not once`);
      return [
        compareRow({
          group: 'provision-rbd-import',
          operation: `provision ${COUNT} instance disks from one image (rbd, not cloneable: import fallback)`,
          stats,
          labels: {
            ours: `${COUNT} × Backend image().cache({ clone }) at once`,
            nova: `nova 26.2.2's Rbd backend (python3-nova), ${COUNT} builds in turn (rbd import each)`,
            'nova-builds': `the same, ${NOVA_MAX_CONCURRENT_BUILDS} builds at once (max_concurrent_builds, eventlet)`,
          },
          context: `${BASE_SIZE / MiB} MiB raw base with 10 % data, downloaded once per side before timing, imported per disk and grown to ${DISK_SIZE / GiB} GiB; compute user; nova's start-up (not counted) ≈ ${novaStartup[0] ?? '?'} ms`,
          details: { count: COUNT, baseSize: BASE_SIZE, diskSize: DISK_SIZE, novaStartupMs: novaStartup },
        }),
      ];
    } finally {
      await backend.close();
    }
  },
};
