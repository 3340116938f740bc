// Zeroing 1 GiB of a block device (a loop device over a file): zeroRange()
// (BLKZEROOUT) against `dd if=/dev/zero ... oflag=direct` (nova's old
// volume_clear=zero) and `shred -n0 -z` (what nova runs now).
import { Buffer } from 'node:buffer';
import { open } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';

import { MiB } from './lib/files.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';

export default {
  name: 'zero',
  order: 60,
  needs: ['loop'],
  async run(ctx) {
    const { zeroRange, blockDeviceSize } = ctx.lib;
    const { device } = ctx.loop;
    const bytes = await blockDeviceSize(device);

    // Must actually zero: data at both ends reads back as zeros.
    const fh = await open(device, 'r+');
    try {
      await fh.write(randomBytes(MiB), 0, MiB, 0);
      await fh.write(randomBytes(MiB), 0, MiB, bytes - MiB);
      await fh.sync();
      await zeroRange(device, { length: bytes });
      for (const at of [0, bytes - MiB]) {
        const { buffer } = await fh.read(Buffer.alloc(MiB), 0, MiB, at);
        if (buffer.some((b) => b !== 0)) throw new Error(`zeroRange left data at ${at} of ${device}`);
      }
    } finally {
      await fh.close();
    }

    const stats = await measure(
      [
        { key: 'ours', fn: () => zeroRange(device, { length: bytes }) },
        {
          key: 'dd',
          fn: () => run('dd', ['if=/dev/zero', `of=${device}`, 'bs=1M', `count=${bytes / MiB}`, 'oflag=direct', 'status=none']),
        },
        { key: 'shred', fn: () => run('shred', ['-n0', '-z', `-s${bytes}`, device]) },
      ],
      { reps: repsFor(ctx, { full: 5, quick: 2 }), warmup: 1 },
    );
    return [
      compareRow({
        group: 'zero',
        operation: `zero ${bytes / MiB} MiB of a loop device`,
        stats,
        labels: { ours: 'zeroRange() (BLKZEROOUT)', dd: 'dd if=/dev/zero bs=1M oflag=direct', shred: 'shred -n0 -z' },
        targets: { dd: { speedup: 5 } },
        details: { bytes, device: 'loop device over a sparse file' },
      }),
    ];
  },
};
