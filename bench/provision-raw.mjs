// Provisioning 100 raw (Flat) instance disks from one cached base: the
// library's Backend (imagesType 'raw') — 100 concurrent image(...).cache()
// calls in one process — against nova itself: Debian's python3-nova running
// nova.virt.libvirt.imagebackend's Flat backend through
// bench/nova/provision.py (Flat.create_image: verify_base_size with qemu-img
// info under prlimit, `cp -r base disk` under the base's lock, disk.extend to
// the flavor size, the format recorded in disk.info); one build at a time,
// and ten at once as nova-compute runs them (max_concurrent_builds).
//
// A raw disk is a copy, so the floor is I/O: the target is that each disk
// costs no more bytes than the base has allocated (holes stay holes). The
// row reports the allocated bytes per disk on both sides, and the time of a
// bare sparse copy of the base (`cp --sparse=always`, one at a time) as the
// floor. The base: 256 MiB with 10 % random data (a fresh cloud image's
// shape), cached once before timing in each side's <instances>/_base.
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { GiB, MiB, makeRawFile } from './lib/files.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';
import { NOVA_MAX_CONCURRENT_BUILDS, novaCases, novaProvision } from './lib/nova.mjs';

const COUNT = 100;
const BASE_SIZE = 256 * MiB;
const DISK_SIZE = GiB;
const IMAGE_ID = 'bench-provision-raw-image';

const allocated = async (path) => (await stat(path)).blocks * 512;

export default {
  name: 'provision-raw',
  order: 72,
  needs: ['nova'],
  async run(ctx) {
    const { Backend, cacheFileName } = ctx.lib;
    const source = await makeRawFile(join(ctx.work, 'provision-raw-source.raw'), BASE_SIZE, 0.1);
    const filename = cacheFileName(IMAGE_ID);
    const instancesPath = join(ctx.work, 'provision-raw-instances');
    const novaInstances = join(ctx.work, 'provision-raw-nova-instances');
    for (const dir of [instancesPath, novaInstances]) {
      await mkdir(join(dir, '_base'), { recursive: true });
      await run('cp', ['--sparse=always', source, join(dir, '_base', filename)]);
    }
    const baseAllocated = await allocated(join(instancesPath, '_base', filename));
    const fetch = async () => {
      throw new Error('provision-raw bench: the base is cached; nothing should be fetched');
    };
    const backend = new Backend({ instancesPath, imagesType: 'raw' });
    const uuids = (key, i) => Array.from({ length: COUNT }, (_, j) => `${key}-${i}-${j}`);
    const cacheOne = (uuid) => backend.image({ uuid }, 'disk').cache({ fetch, filename, imageId: IMAGE_ID, size: DISK_SIZE });
    const novaConfig = (key, i, workers, count = COUNT) => ({
      instances_path: novaInstances,
      images_type: 'raw',
      image_id: IMAGE_ID,
      size: DISK_SIZE,
      count,
      prefix: `${key}-${i}`,
      workers,
      source,
    });

    // One disk from each side, checked: raw, the flavor size, the base's bytes.
    await cacheOne('check-ours');
    await novaProvision(novaConfig('check', 'nova', 1, 1));
    const perDisk = {};
    for (const [side, disk] of [
      ['ours', join(instancesPath, 'check-ours', 'disk')],
      ['nova', join(novaInstances, 'check-nova-0', 'disk')],
    ]) {
      const info = JSON.parse((await run('qemu-img', ['info', '--output=json', '-f', 'raw', disk])).stdout);
      if (info['virtual-size'] !== DISK_SIZE) throw new Error(`provision-raw bench: ${side}'s disk is not ${DISK_SIZE} bytes: ${JSON.stringify(info)}`);
      await run('cmp', ['-n', String(BASE_SIZE), source, disk]);
      perDisk[side] = await allocated(disk);
    }
    await rm(join(instancesPath, 'check-ours'), { recursive: true, force: true });
    await rm(join(novaInstances, 'check-nova-0'), { recursive: true, force: true });

    // The floor: a bare sparse copy of the base, 100 in turn.
    const floorTarget = join(ctx.work, 'provision-raw-floor');
    await mkdir(floorTarget, { recursive: true });
    const t0 = performance.now();
    for (let j = 0; j < 10; j++) await run('cp', ['--sparse=always', source, join(floorTarget, `disk-${j}`)]);
    const floorMsPerDisk = (performance.now() - t0) / 10;
    await rm(floorTarget, { recursive: true, force: true });

    const drop = (root) => (key) => (i) => Promise.all(uuids(key, i).map((u) => rm(join(root, u), { recursive: true, force: true })));
    const novaStartup = [];
    const stats = await measure(
      [
        { key: 'ours', fn: (i) => Promise.all(uuids('ours', i).map(cacheOne)), teardown: drop(instancesPath)('ours') },
        ...novaCases(novaConfig, drop(novaInstances), novaStartup),
      ],
      { reps: repsFor(ctx, { full: 3, quick: 1 }), warmup: 0 },
    );
    return [
      compareRow({
        group: 'provision-raw',
        operation: `provision ${COUNT} instance disks from one cached base (raw/Flat)`,
        stats,
        labels: {
          ours: `${COUNT} × Backend image().cache() at once`,
          nova: `nova 26.2.2's Flat backend (python3-nova), ${COUNT} builds in turn`,
          'nova-builds': `the same, ${NOVA_MAX_CONCURRENT_BUILDS} builds at once (max_concurrent_builds, eventlet)`,
        },
        context:
          `${BASE_SIZE / MiB} MiB raw base with 10 % data (${(baseAllocated / MiB).toFixed(1)} MiB allocated) → ${DISK_SIZE / GiB} GiB raw disks; ` +
          `allocated per disk: ours ${(perDisk.ours / MiB).toFixed(1)} MiB, nova ${(perDisk.nova / MiB).toFixed(1)} MiB; ` +
          `floor (bare cp --sparse=always of the base) ${floorMsPerDisk.toFixed(1)} ms per disk, ${((floorMsPerDisk * COUNT) / 1000).toFixed(1)} s for ${COUNT}`,
        details: {
          count: COUNT,
          baseSize: BASE_SIZE,
          diskSize: DISK_SIZE,
          baseAllocatedBytes: baseAllocated,
          allocatedPerDisk: perDisk,
          ioFloorMet: perDisk.ours <= baseAllocated,
          floorMsPerDisk,
          novaStartupMs: novaStartup,
        },
      }),
    ];
  },
};
