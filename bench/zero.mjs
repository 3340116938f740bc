// Zeroing a block device (a loop device over a file): zeroRange()
// (BLKZEROOUT) against `dd if=/dev/zero ... oflag=direct` (nova's old
// volume_clear=zero) and `shred -n0 -z` (what nova runs now). Twice: over a
// sparse backing file (the loop driver may turn zeroing into hole punching,
// which flatters every method) and over a fully written one, whose blocks are
// really allocated, as a logical volume's extents are. Each row says which.
import { Buffer } from 'node:buffer';
import { open, stat, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

import { MiB } from './lib/files.mjs';
import { compareRow, measure, repsFor, run } from './lib/harness.mjs';

/** Writes every byte of a new `bytes`-long file (random data), so all its blocks are allocated. */
async function denseFile(path, bytes) {
  const fh = await open(path, 'w');
  try {
    const chunk = randomBytes(4 * MiB);
    for (let at = 0; at < bytes; at += chunk.length) await fh.write(chunk, 0, Math.min(chunk.length, bytes - at), at);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Bytes the file's blocks occupy (st_blocks × 512). */
async function allocated(path) {
  return (await stat(path)).blocks * 512;
}

async function zeroRow(ctx, device, backing, kind) {
  const { zeroRange, blockDeviceSize } = ctx.lib;
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

  const allocatedBefore = await allocated(backing);
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
  const allocatedAfter = await allocated(backing);
  return compareRow({
    group: 'zero',
    operation: `zero ${bytes / MiB} MiB of a loop device (${kind} backing file)`,
    stats,
    labels: { ours: 'zeroRange() (BLKZEROOUT)', dd: 'dd if=/dev/zero bs=1M oflag=direct', shred: 'shred -n0 -z' },
    targets: { dd: { speedup: 5 } },
    details: {
      bytes,
      device: `loop device over a ${kind} file`,
      backingAllocatedBytes: { before: allocatedBefore, after: allocatedAfter },
    },
  });
}

export default {
  name: 'zero',
  order: 60,
  needs: ['loop'],
  async run(ctx) {
    const rows = [await zeroRow(ctx, ctx.loop.device, ctx.loop.backing, 'sparse')];
    const size = await ctx.lib.blockDeviceSize(ctx.loop.device);
    const backing = join(ctx.work, 'loop-dense.img');
    await denseFile(backing, size);
    const { stdout } = await run('losetup', ['--find', '--show', backing]);
    const device = stdout.trim();
    try {
      rows.push(await zeroRow(ctx, device, backing, 'fully written'));
    } finally {
      await run('losetup', ['--detach', device]);
      await unlink(backing);
    }
    return rows;
  },
};
