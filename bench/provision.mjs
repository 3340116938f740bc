// Provisioning 100 instance disks from one cached base (qcow2): the
// library's Backend — 100 concurrent image(...).cache() calls in one process —
// against its own floor, 100 bare createQcow2Overlay() calls plus their
// disk.info writes (target: ours ≤ 3× that, issue 10), and against nova
// itself: Debian's python3-nova running nova.virt.libvirt.imagebackend
// (Qcow2.cache/create_image: the format inspector's safety check, qemu-img
// info under prlimit for verify_base_size, qemu-img info + qemu-img create
// under the base's lock, disk.info), through bench/nova/provision.py; one
// build at a time, and ten at once as nova-compute runs them
// (max_concurrent_builds, greenthreads).
//
// The base (a 256 MiB raw image from `qemu-img create -f raw`) is cached once,
// before timing, in each side's <instances>/_base. nova's sample is the time
// it reports for the 100 disks in a fresh python3 process; its start-up and
// import are kept in details.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';

import { GiB, MiB } from './lib/files.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';
import { NOVA_MAX_CONCURRENT_BUILDS, novaCases } from './lib/nova.mjs';

const COUNT = 100;
const BASE_SIZE = 256 * MiB;
const DISK_SIZE = GiB;
const IMAGE_ID = 'bench-provision-image';

export default {
  name: 'provision',
  order: 70,
  needs: ['nova'],
  async run(ctx) {
    const { Backend, DiskInfo, cacheFileName, createQcow2Overlay } = ctx.lib;
    const source = join(ctx.work, 'provision-source.raw');
    await run('qemu-img', ['create', '-q', '-f', 'raw', source, String(BASE_SIZE)]);
    const instancesPath = join(ctx.work, 'provision-instances');
    await mkdir(instancesPath, { recursive: true });
    const filename = cacheFileName(IMAGE_ID);
    const base = join(instancesPath, '_base', filename);
    let fetches = 0;
    const fetch = async ({ target }) => {
      fetches++;
      await copyFile(source, target);
    };
    const backend = new Backend({ instancesPath, imagesType: 'qcow2' });
    const uuids = (key, i) => Array.from({ length: COUNT }, (_, j) => `${key}-${i}-${j}`);
    const cacheOne = (uuid) => backend.image({ uuid }, 'disk').cache({ fetch, filename, imageId: IMAGE_ID, size: DISK_SIZE });
    // The floor: what a disk costs without the policy around it (no lock, no inspection, no checks).
    const bareOne = async (uuid) => {
      const folder = join(instancesPath, uuid);
      await mkdir(folder, { recursive: true });
      const disk = join(folder, 'disk');
      await createQcow2Overlay(disk, { backingFile: base, backingFormat: 'raw', size: DISK_SIZE });
      await DiskInfo.forInstance(folder, { locks: backend.context.locks }).recordFormat(disk, 'qcow2');
    };

    // Fetch the base once (untimed) and check a disk against qemu-img.
    await cacheOne('check');
    const check = join(instancesPath, 'check', 'disk');
    await run('qemu-img', ['check', '-q', check]);
    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', check])).stdout);
    if (info.format !== 'qcow2' || info['virtual-size'] !== DISK_SIZE || info['full-backing-filename'] !== base) {
      throw new Error(`provision bench: unexpected disk ${JSON.stringify(info)}`);
    }
    await rm(join(instancesPath, 'check'), { recursive: true, force: true });

    const dropAll = (key) => (i) => Promise.all(uuids(key, i).map((u) => rm(join(instancesPath, u), { recursive: true, force: true })));
    // nova's own instances folder, with the same base already cached.
    const novaInstances = join(ctx.work, 'provision-nova-instances');
    await mkdir(join(novaInstances, '_base'), { recursive: true });
    await copyFile(source, join(novaInstances, '_base', filename));
    const novaConfig = (key, i, workers) => ({
      instances_path: novaInstances,
      images_type: 'qcow2',
      image_id: IMAGE_ID,
      size: DISK_SIZE,
      count: COUNT,
      prefix: `${key}-${i}`,
      workers,
      source,
    });
    const novaDrop = (key) => (i) =>
      Promise.all(Array.from({ length: COUNT }, (_, j) => rm(join(novaInstances, `${key}-${i}-${j}`), { recursive: true, force: true })));
    const novaStartup = [];
    const stats = await measure(
      [
        { key: 'ours', fn: (i) => Promise.all(uuids('ours', i).map(cacheOne)), teardown: dropAll('ours') },
        { key: 'bare', fn: (i) => Promise.all(uuids('bare', i).map(bareOne)), teardown: dropAll('bare') },
        ...novaCases(novaConfig, novaDrop, novaStartup),
      ],
      { reps: repsFor(ctx, { full: 3, quick: 1 }), warmup: 0 },
    );
    if (fetches !== 1) throw new Error(`provision bench: the base was fetched ${fetches} times, not once`);
    const floorRatio = stats.ours.median / stats.bare.median;
    process.stderr.write(
      `[bench] provision: ours ${stats.ours.median.toFixed(1)} ms, bare overlays + disk.info ${stats.bare.median.toFixed(1)} ms: ` +
        `${floorRatio.toFixed(2)}× the floor (target ≤ 3×: ${floorRatio <= 3 ? 'met' : 'MISSED'})\n`,
    );
    return [
      compareRow({
        group: 'provision',
        operation: `provision ${COUNT} instance disks from one cached base (qcow2)`,
        stats,
        labels: {
          ours: `${COUNT} × Backend image().cache() at once`,
          bare: `the floor: ${COUNT} × createQcow2Overlay() + disk.info write at once (no lock, no checks)`,
          nova: `nova 26.2.2's Qcow2 backend (python3-nova), ${COUNT} builds in turn`,
          'nova-builds': `the same, ${NOVA_MAX_CONCURRENT_BUILDS} builds at once (max_concurrent_builds, eventlet)`,
        },
        // bare: ours at most 3× the floor (speedup = floor / ours ≥ 0.33).
        targets: { bare: { speedup: 0.33 }, 'nova-builds': { speedup: 100 } },
        context: `${BASE_SIZE / MiB} MiB raw base cached once, ${DISK_SIZE / GiB} GiB qcow2 disks; nova's start-up and import (not counted) ≈ ${novaStartup[0] ?? '?'} ms`,
        details: { count: COUNT, baseSize: BASE_SIZE, diskSize: DISK_SIZE, novaStartupMs: novaStartup, floorRatio, floorTarget: 3 },
      }),
    ];
  },
};
