// The storm: 100 concurrent clones and a dense import through the library at
// once, while we watch the event loop (perf_hooks.monitorEventLoopDelay) and
// how long fs.stat takes (it shares libuv's thread pool with the addon's
// workers). The alternative column is the same measurement with no storm.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { pools, rbdBase, removeImages } from './lib/ceph.mjs';
import { GiB, MiB, makeRawFile } from './lib/files.mjs';
import { fmtMs } from './lib/format.mjs';
import { repsFor, row, summarize } from './lib/harness.mjs';

const CLONES = 100;
// The histogram records the whole timer interval, not only the delay past it
// (an idle loop reads ~1.0x ms at resolution 1): we subtract the resolution.
const RESOLUTION_MS = 1;
const STAT_EVERY_MS = 2;

/** Watches the loop and fs.stat while `work()` runs; returns p99s in ms. */
async function observe(probe, work) {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  const statMs = [];
  let running = true;
  const sampler = (async () => {
    while (running) {
      const t0 = performance.now();
      await stat(probe);
      statMs.push(performance.now() - t0);
      await sleep(STAT_EVERY_MS);
    }
  })();
  h.enable();
  const t0 = performance.now();
  await work();
  const wallMs = performance.now() - t0;
  h.disable();
  running = false;
  await sampler;
  const lag = (p) => Math.max(0, h.percentile(p) / 1e6 - RESOLUTION_MS);
  const s = summarize(statMs);
  const sorted = [...statMs].sort((a, b) => a - b);
  return {
    wallMs,
    lagP50: lag(50),
    lagP99: lag(99),
    lagMax: Math.max(0, h.max / 1e6 - RESOLUTION_MS),
    statP50: s.median,
    statP99: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))],
    statMax: s.max,
    statCount: statMs.length,
  };
}

export default {
  name: 'event-loop',
  order: 90,
  needs: ['ceph'],
  async run(ctx) {
    const { vms } = pools(ctx);
    const base = await rbdBase(ctx);
    const parent = ctx.ceph.compute.pool(base.pool).image(base.image);
    const bytes = ctx.quick ? 256 * MiB : GiB;
    const file = await makeRawFile(join(ctx.work, 'storm-dense.raw'), bytes, 1);
    const reps = repsFor(ctx, { full: 3, quick: 1 });

    const idle = [];
    const storm = [];
    for (let i = 0; i < reps; i++) {
      idle.push(await observe(file, () => sleep(2000)));
      const clones = Array.from({ length: CLONES }, (_, j) => `bench-storm-${i}-${j}`);
      const imported = `bench-storm-import-${i}`;
      storm.push(
        await observe(file, () =>
          Promise.all([
            ctx.ceph.compute.pool(vms).image(imported).import(file),
            ...clones.map((n) => parent.clone(base.snapshot, ctx.ceph.compute.pool(vms), n)),
          ]),
        ),
      );
      await removeImages(ctx, vms, [imported, ...clones]);
    }
    const of = (runs, k) => summarize(runs.map((r) => r[k]));
    const size = ctx.quick ? '256 MiB' : '1 GiB';
    const details = { idle, storm, resolutionMs: RESOLUTION_MS, statEveryMs: STAT_EVERY_MS, clones: CLONES, importBytes: bytes };
    return [
      row({
        group: 'event-loop',
        operation: `event-loop lag p99 (${CLONES} clones + ${size} import)`,
        ours: { label: 'during the storm', stats: of(storm, 'lagP99') },
        alternatives: [{ label: 'idle, same process', stats: of(idle, 'lagP99') }],
        target: { maxMs: 10 },
        details,
      }),
      row({
        group: 'event-loop',
        operation: 'fs.stat latency p99 during that storm',
        ours: { label: 'during the storm', stats: of(storm, 'statP99') },
        alternatives: [{ label: 'idle, same process', stats: of(idle, 'statP99') }],
        context:
          `median fs.stat ${fmtMs(of(storm, 'statP50').median)} during the storm (idle ${fmtMs(of(idle, 'statP50').median)}), ` +
          `worst ${fmtMs(of(storm, 'statMax').max)}; libuv pool of ${Number(process.env.UV_THREADPOOL_SIZE ?? 4)} threads, shared by the addon's workers and fs`,
      }),
      row({
        group: 'event-loop',
        operation: 'storm wall time',
        ours: { label: `${CLONES} clones + import`, stats: of(storm, 'wallMs') },
      }),
    ];
  },
};
