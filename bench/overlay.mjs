// qcow2 overlay creation on a raw base: native createQcow2Overlay() against
// `qemu-img create -f qcow2 -b BASE -F raw` (nova's create_cow_image).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';

import { GiB, makeRawFile } from './lib/files.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';

export default {
  name: 'overlay',
  order: 20,
  needs: [],
  async run(ctx) {
    const { createQcow2Overlay } = ctx.lib;
    const base = await makeRawFile(join(ctx.work, 'overlay-base.raw'), GiB, 0.1);
    const target = (key, i) => join(ctx.work, `overlay-${key}-${i}.qcow2`);
    const cleanup = (key) => (i) => rm(target(key, i), { force: true });

    // Our overlay must be one qemu accepts, with the same backing and size.
    await createQcow2Overlay(target('check', 0), { backingFile: base, backingFormat: 'raw' });
    await run('qemu-img', ['check', '-q', target('check', 0)]);
    const info = JSON.parse((await run('qemu-img', ['info', '--output=json', target('check', 0)])).stdout);
    if (info['backing-filename'] !== base || info['virtual-size'] !== GiB) {
      throw new Error(`unexpected overlay: ${JSON.stringify(info)}`);
    }
    await cleanup('check')(0);

    const stats = await measure(
      [
        {
          key: 'ours',
          fn: (i) => createQcow2Overlay(target('ours', i), { backingFile: base, backingFormat: 'raw' }),
          teardown: cleanup('ours'),
          reps: repsFor(ctx, { full: 200, quick: 20 }),
        },
        {
          key: 'qemu-img',
          fn: (i) => run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'raw', target('qemu-img', i)]),
          teardown: cleanup('qemu-img'),
        },
      ],
      { reps: repsFor(ctx, { full: 40, quick: 8 }), warmup: 3 },
    );
    return [
      compareRow({
        group: 'overlay',
        operation: 'qcow2 overlay on a raw base',
        stats,
        labels: { ours: 'createQcow2Overlay()', 'qemu-img': 'qemu-img create -f qcow2 -b -F raw' },
        targets: { 'qemu-img': { speedup: 20 } },
      }),
    ];
  },
};
