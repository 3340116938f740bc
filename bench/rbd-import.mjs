// Import of a raw file into a new RBD image, mostly zeros (10 % data) and
// dense: RbdImage.import() (aio writes in flight, zero chunks skipped)
// against `rbd import` (nova's import_image argv) and
// `qemu-img convert -O raw FILE rbd:pool/img:conf=...:id=...:keyring=...`.
import { join } from 'node:path';

import { cephArgs, pools, removeImages } from './lib/ceph.mjs';
import { GiB, MiB, makeRawFile } from './lib/files.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';

async function osdWriteCeiling(ctx, pool, seconds) {
  const { CEPH_CONF, CEPH_ADMIN_USER } = ctx.ceph.env;
  const rados = (...args) => run('rados', ['--id', CEPH_ADMIN_USER, '--conf', CEPH_CONF, '-p', pool, ...args]);
  // --no-cleanup: the cleanup's messages would land inside the JSON.
  const { stdout } = await rados('bench', String(seconds), 'write', '-b', String(4 * MiB), '-t', '8', '--no-cleanup', '--format', 'json');
  await rados('cleanup');
  const out = JSON.parse(stdout.slice(stdout.indexOf('{')));
  return {
    tool: `rados bench ${seconds} write -b 4M -t 8`,
    bandwidthMiBs: Number(out.bandwidth),
    perSecondMiBs: out.datas.slice(1).map((d) => Number(d.cur_bw)),
  };
}

export default {
  name: 'rbd-import',
  order: 50,
  needs: ['ceph'],
  async run(ctx) {
    const { vms } = pools(ctx);
    const { CEPH_CONF, CEPH_CLIENT_USER, CEPH_CLIENT_KEYRING } = ctx.ceph.env;
    const bytes = ctx.quick ? 256 * MiB : GiB;
    const size = ctx.quick ? '256 MiB' : '1 GiB';
    // The ceiling: what the OSD takes with no RBD at all (4 MiB objects, 8 in
    // flight, as our import writes), so dense numbers can be read against it.
    const ceiling = await osdWriteCeiling(ctx, vms, ctx.quick ? 2 : 5);
    ctx.log(`OSD write ceiling (rados bench): ${ceiling.bandwidthMiBs.toFixed(0)} MiB/s`);
    const rows = [];
    for (const [kind, fraction, target] of [
      ['10 % data: 1 MiB in every 10 MiB, holes between', 0.1, 2],
      ['dense', 1, 1.2],
    ]) {
      const file = await makeRawFile(join(ctx.work, `import-${fraction}.raw`), bytes, fraction);
      const name = (key, i) => `bench-import-${fraction}-${key}-${i}`;
      const drop = (key) => (i) => removeImages(ctx, vms, [name(key, i)]);
      let written;
      const stats = await measure(
        [
          {
            key: 'ours',
            fn: async (i) => {
              written = Number((await ctx.ceph.compute.pool(vms).image(name('ours', i)).import(file)).bytesWritten);
            },
            teardown: drop('ours'),
          },
          {
            key: 'rbd',
            fn: (i) => run('rbd', ['import', '--pool', vms, file, name('rbd', i), '--image-format=2', ...cephArgs(ctx)]),
            teardown: drop('rbd'),
          },
          {
            key: 'qemu-img',
            fn: (i) =>
              run('qemu-img', [
                'convert', '-f', 'raw', '-O', 'raw', file,
                `rbd:${vms}/${name('qemu-img', i)}:conf=${CEPH_CONF}:id=${CEPH_CLIENT_USER}:keyring=${CEPH_CLIENT_KEYRING}`,
              ]),
            teardown: drop('qemu-img'),
          },
        ],
        { reps: repsFor(ctx, { full: 3, quick: 1 }), warmup: repsFor(ctx, { full: 1, quick: 0 }) },
      );
      rows.push(
        compareRow({
          group: 'rbd-import',
          operation: `import ${size} raw into RBD (${kind})`,
          stats,
          labels: { ours: 'image.import()', rbd: 'rbd import', 'qemu-img': 'qemu-img convert -O raw … rbd:' },
          targets: { rbd: { speedup: target } },
          context:
            `${Math.round((bytes * fraction) / MiB)} MiB of data in the file; image.import() wrote ${Math.round(written / MiB)} MiB; ` +
            'data rate (file data / median time) ' +
            Object.entries(stats).map(([k, v]) => `${Math.round((bytes * fraction) / MiB / (v.median / 1000))} MiB/s (${k})`).join(', ') +
            `; the OSD alone takes ${Math.round(ceiling.bandwidthMiBs)} MiB/s (${ceiling.tool})`,
          details: {
            bytes,
            oursBytesWritten: written,
            dataFraction: fraction,
            dataMiB: Math.round((bytes * fraction) / MiB),
            // Data written per second of the median run, for reading against the ceiling.
            mibPerSecond: Object.fromEntries(
              Object.entries(stats).map(([k, v]) => [k, Math.round((bytes * fraction) / MiB / (v.median / 1000))]),
            ),
            osdWriteCeiling: ceiling,
          },
        }),
      );
    }
    return rows;
  },
};
