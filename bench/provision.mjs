// Provisioning 100 instance disks from one cached base (qcow2): the
// library's Backend — 100 concurrent image(...).cache() calls in one process —
// against its own floor, 100 bare createQcow2Overlay() calls plus their
// disk.info writes (target: ours ≤ 3× that, issue 10), and against nova's module, mirrored in bench/python/nova_qcow2.py: per disk
// qemu-img info (verify_base_size), qemu-img info + qemu-img create -f qcow2
// -o backing_file,backing_fmt (create_cow_image, under the base's lock), then
// a disk.info rewrite; one build at a time, and ten at once as nova-compute
// runs them by default (max_concurrent_builds).
//
// The base (a 256 MiB raw image from `qemu-img create -f raw`) is fetched once,
// before timing, into <instances>/_base; both sides then find it cached. The
// Python side is ONE python3 process per repetition doing all 100 disks; its
// sample is the time it reports for the 100 disks, and the interpreter's
// start-up (wall time around the process minus that) is kept in details.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { GiB, MiB } from './lib/files.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';
import { PYTHON } from './lib/python.mjs';

const COUNT = 100;
const NOVA_MAX_CONCURRENT_BUILDS = 10;
const BASE_SIZE = 256 * MiB;
const DISK_SIZE = GiB;
const IMAGE_ID = 'bench-provision-image';
const SCRIPT = join(import.meta.dirname, 'python', 'nova_qcow2.py');

export default {
  name: 'provision',
  order: 70,
  needs: [],
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
    const pythonStartup = [];
    const stats = await measure(
      [
        { key: 'ours', fn: (i) => Promise.all(uuids('ours', i).map(cacheOne)), teardown: dropAll('ours') },
        { key: 'bare', fn: (i) => Promise.all(uuids('bare', i).map(bareOne)), teardown: dropAll('bare') },
        ...[
          ['python', 1],
          ['python-builds', NOVA_MAX_CONCURRENT_BUILDS],
        ].map(([key, workers]) => ({
          key,
          selfTimed: true,
          fn: async (i) => {
            const t0 = performance.now();
            const { stdout } = await run(PYTHON, [SCRIPT, base, instancesPath, `${key}-${i}`, String(COUNT), String(DISK_SIZE), String(workers)]);
            const { ms, disks } = JSON.parse(stdout);
            if (disks !== COUNT) throw new Error(`nova_qcow2.py made ${disks} disks`);
            if (workers === 1) pythonStartup.push(Math.round((performance.now() - t0 - ms) * 10) / 10);
            return ms;
          },
          teardown: dropAll(key),
        })),
      ],
      { reps: repsFor(ctx, { full: 5, quick: 1 }), warmup: 1 },
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
          python: `nova's Qcow2.create_image + cache in Python, ${COUNT} disks in turn (qemu-img info ×2, create, disk.info)`,
          'python-builds': `the same, ${NOVA_MAX_CONCURRENT_BUILDS} builds at once (max_concurrent_builds; create under the base's lock)`,
        },
        // bare: ours at most 3× the floor (speedup = floor / ours ≥ 0.33).
        targets: { bare: { speedup: 0.33 }, python: { speedup: 10 }, 'python-builds': { speedup: 10 } },
        context: `${BASE_SIZE / MiB} MiB raw base cached once, ${DISK_SIZE / GiB} GiB qcow2 disks; Python start-up (not counted) ≈ ${pythonStartup[0] ?? '?'} ms`,
        details: { count: COUNT, baseSize: BASE_SIZE, diskSize: DISK_SIZE, pythonStartupMs: pythonStartup, floorRatio, floorTarget: 3 },
      }),
    ];
  },
};
