// Size + format query of a qcow2 and a raw file: native inspect() against
// `qemu-img info --output=json` spawned from Node (what nova forks).
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { GiB, makeRawFile } from './lib/files.mjs';
import { fmtMs } from './lib/format.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';

export default {
  name: 'inspect',
  order: 10,
  needs: [],
  async run(ctx) {
    const { inspect } = ctx.lib;
    const raw = await makeRawFile(join(ctx.work, 'inspect.raw'), GiB, 0.1);
    const qcow2 = join(ctx.work, 'inspect.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', qcow2, String(GiB)]);
    const qemuInfo = async (path) => JSON.parse((await run('qemu-img', ['info', '--output=json', path])).stdout);

    const rows = [];
    for (const [format, path] of [
      ['qcow2', qcow2],
      ['raw', raw],
    ]) {
      // Both must answer the same question the same way, or the timing means nothing.
      const [ours, theirs] = [await inspect(path), await qemuInfo(path)];
      if (ours.format !== theirs.format || ours.virtualSize !== theirs['virtual-size']) {
        throw new Error(`inspect() and qemu-img disagree on ${path}: ${ours.format}/${ours.virtualSize} vs ${theirs.format}/${theirs['virtual-size']}`);
      }
      const stats = await measure(
        [
          { key: 'ours', fn: () => inspect(path), reps: repsFor(ctx, { full: 300, quick: 30 }) },
          { key: 'qemu-img', fn: () => qemuInfo(path) },
          // Not a competitor: the floor of any async call through libuv's pool.
          { key: 'floor', fn: () => stat(path), reps: repsFor(ctx, { full: 300, quick: 30 }) },
        ],
        { reps: repsFor(ctx, { full: 40, quick: 8 }), warmup: 3 },
      );
      const { floor, ...compared } = stats;
      rows.push(
        compareRow({
          group: 'inspect',
          operation: `size + format query (${format})`,
          stats: compared,
          context: `fs.stat of the same file, one round trip through libuv's thread pool and the floor of any async call: ${fmtMs(floor.median)}`,
          details: { fsStatFloor: floor },
          labels: { ours: 'inspect()', 'qemu-img': 'qemu-img info --output=json' },
          targets: { 'qemu-img': { speedup: 200 } },
        }),
      );
    }
    return rows;
  },
};
