// RBD size query: one persistent connection (RbdImage.size(): open, stat,
// close on a worker thread) against the `rbd info` CLI and nova's own
// RBDDriver.size() (python3-nova: a new cluster connection per call).
import { GiB } from './lib/files.mjs';
import { cephArgs, pools } from './lib/ceph.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';

export default {
  name: 'rbd-size',
  order: 30,
  needs: ['ceph', 'python', 'nova'],
  async run(ctx) {
    const { vms } = pools(ctx);
    const name = 'bench-size-probe';
    await ctx.ceph.compute.pool(vms).image(name).create(GiB);
    const image = ctx.ceph.compute.pool(vms).image(name);
    const py = ctx.python();

    if ((await image.size()) !== BigInt(GiB) || (await py.request({ op: 'size', pool: vms, image: name })).result !== GiB) {
      throw new Error('size probe disagrees');
    }
    const slow = repsFor(ctx, { full: 30, quick: 6 });
    const stats = await measure(
      [
        { key: 'ours', fn: () => image.size(), reps: repsFor(ctx, { full: 300, quick: 30 }) },
        {
          key: 'rbd',
          fn: () => run('rbd', ['info', '--format', 'json', `${vms}/${name}`, ...cephArgs(ctx)]),
        },
        { key: 'nova', selfTimed: true, fn: () => py.timed({ op: 'size', pool: vms, image: name }), reps: slow * 2 },
        {
          key: 'python-persistent',
          selfTimed: true,
          fn: () => py.timed({ op: 'size_persistent', pool: vms, image: name }),
          reps: slow * 2,
        },
      ],
      { reps: slow, warmup: 3 },
    );
    return [
      compareRow({
        group: 'rbd-size',
        operation: 'RBD size query',
        stats,
        labels: {
          ours: 'image.size(), shared connection',
          rbd: 'rbd info CLI',
          nova: "nova's RBDDriver.size (new connection per call)",
          'python-persistent': 'Python rbd, one persistent connection (not nova; for scale)',
        },
        targets: { rbd: { speedup: 30 }, nova: { speedup: 30 } },
      }),
    ];
  },
};
