// RBD clone from a protected snapshot, one at a time and 100 at once:
// RbdImage.clone() over the shared connection against the `rbd clone` CLI and
// nova's own RBDDriver.clone (python3-nova: two new connections per clone,
// source pool and destination pool). 100 concurrent: 100 promises at once
// (the addon's own worker threads); 100 CLI processes at once; nova as
// greenthreads, max_concurrent_builds at once, eventlet as in nova-compute
// (see bench/python/nova_rbd.py).
import { cephArgs, pools, rbdBase, removeImages } from './lib/ceph.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';
import { NOVA_MAX_CONCURRENT_BUILDS } from './lib/nova.mjs';

export default {
  name: 'rbd-clone',
  order: 40,
  needs: ['ceph', 'python', 'nova'],
  async run(ctx) {
    const { vms } = pools(ctx);
    const base = await rbdBase(ctx);
    const parent = ctx.ceph.compute.pool(base.pool).image(base.image);
    const py = ctx.python();
    const name = (key, i, j = 0) => `bench-clone-${key}-${i}-${j}`;
    const cliClone = (dest) => run('rbd', ['clone', `${base.pool}/${base.image}@${base.snapshot}`, `${vms}/${dest}`, ...cephArgs(ctx)]);
    const pyClone = { op: 'clone', src_pool: base.pool, image: base.image, snapshot: base.snapshot, dest_pool: vms };
    const labels = {
      ours: 'image.clone()',
      rbd: 'rbd clone CLI',
      nova: "nova's RBDDriver.clone (two new connections per call)",
      'python-persistent': 'Python rbd, persistent connections (not nova; for scale)',
    };
    const targets = { rbd: { speedup: 10 }, nova: { speedup: 10 } };
    const rows = [];

    // One at a time.
    const drop = (key) => (i) => removeImages(ctx, vms, [name(key, i)]);
    const single = await measure(
      [
        {
          key: 'ours',
          fn: (i) => parent.clone(base.snapshot, ctx.ceph.compute.pool(vms), name('ours', i)),
          teardown: drop('ours'),
          reps: repsFor(ctx, { full: 60, quick: 10 }),
        },
        { key: 'rbd', fn: (i) => cliClone(name('rbd', i)), teardown: drop('rbd') },
        {
          key: 'nova',
          selfTimed: true,
          fn: (i) => py.timed({ ...pyClone, dest: name('nova', i) }),
          teardown: drop('nova'),
        },
        {
          key: 'python-persistent',
          selfTimed: true,
          fn: (i) => py.timed({ ...pyClone, op: 'clone_persistent', dest: name('python-persistent', i) }),
          teardown: drop('python-persistent'),
        },
      ],
      { reps: repsFor(ctx, { full: 20, quick: 5 }), warmup: 2 },
    );
    rows.push(compareRow({ group: 'rbd-clone', operation: 'RBD clone from a protected snapshot', stats: single, labels, targets }));

    // 100 at once.
    const COUNT = 100;
    const names = (key, i) => Array.from({ length: COUNT }, (_, j) => name(key, i, j));
    const dropAll = (key) => (i) => removeImages(ctx, vms, names(key, i));
    const many = await measure(
      [
        {
          key: 'ours',
          fn: (i) => Promise.all(names('ours', i).map((n) => parent.clone(base.snapshot, ctx.ceph.compute.pool(vms), n))),
          teardown: dropAll('ours'),
        },
        { key: 'rbd', fn: (i) => Promise.all(names('rbd', i).map(cliClone)), teardown: dropAll('rbd') },
        {
          key: 'nova',
          selfTimed: true,
          fn: (i) => py.timed({ ...pyClone, op: 'clone_many', names: names('nova', i), workers: NOVA_MAX_CONCURRENT_BUILDS }),
          teardown: dropAll('nova'),
        },
      ],
      { reps: repsFor(ctx, { full: 3, quick: 1 }), warmup: repsFor(ctx, { full: 1, quick: 0 }) },
    );
    rows.push(
      compareRow({
        group: 'rbd-clone',
        operation: `${COUNT} concurrent RBD clones (wall time)`,
        stats: many,
        labels: {
          ours: `${COUNT} × image.clone() at once`,
          rbd: `${COUNT} rbd clone processes at once`,
          nova: `nova's RBDDriver.clone, ${NOVA_MAX_CONCURRENT_BUILDS} greenthreads (max_concurrent_builds)`,
        },
        targets,
      }),
    );
    return rows;
  },
};
