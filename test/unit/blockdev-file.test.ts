// The native blockdev operations on regular files.
import { randomBytes } from 'node:crypto';
import { open, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  blockDeviceSize,
  copyRawData,
  discardRange,
  fallocateFile,
  overwriteRandom,
  zeroRange,
} from '../../src/blockdev/index.js';
import { sameBytes, tempDir } from './helpers/system.js';
import { isZero, readRange, rejection } from '../helpers/assert.js';

let dir: string;
let removeDir: () => Promise<void>;

beforeAll(async () => {
  ({ dir, remove: removeDir } = await tempDir('blockdev'));
});
afterAll(async () => {
  await removeDir();
});

describe('blockDeviceSize on files', () => {
  it('returns st_size, DISK_NOT_FOUND for a missing path, and refuses a directory', async () => {
    const path = join(dir, 'size.raw');
    await writeFile(path, '');
    await truncate(path, 3 * 2 ** 30 + 7);
    expect(await blockDeviceSize(path)).toBe(3 * 2 ** 30 + 7);
    const missing = await rejection(blockDeviceSize(join(dir, 'nope')));
    expect(missing.code).toBe('DISK_NOT_FOUND');
    expect(missing.errnoName).toBe('ENOENT');
    expect(missing.path).toBe(join(dir, 'nope'));
    const directory = await rejection(blockDeviceSize(dir));
    expect(directory.code).toBe('BLOCKDEV_FAILED');
    expect(directory.errnoName).toBe('EINVAL');
  });

  it('validates arguments before calling the addon', async () => {
    expect((await rejection(blockDeviceSize(''))).code).toBe('INVALID_ARGUMENT');
    expect((await rejection(zeroRange(join(dir, 'x'), { offset: -1 }))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('zero, discard and random overwrite on files', () => {
  it('zeroes a range, leaves the rest, caps at the end, and reports progress', async () => {
    const path = join(dir, 'zero.raw');
    const data = randomBytes(1 << 20);
    await writeFile(path, data);
    expect(await zeroRange(path, { offset: 4096, length: 8192 })).toBe(8192);
    const after = await readFile(path);
    expect(isZero(after.subarray(4096, 12288))).toBe(true);
    expect(after.subarray(0, 4096).equals(data.subarray(0, 4096))).toBe(true);
    expect(after.subarray(12288).equals(data.subarray(12288))).toBe(true);
    const events: number[][] = [];
    expect(await zeroRange(path, { offset: (1 << 20) - 100, length: 1 << 30, onProgress: (d, t) => events.push([d, t]) })).toBe(100);
    expect(events.at(-1)).toEqual([100, 100]);
    expect((await stat(path)).size).toBe(1 << 20);
    expect((await rejection(zeroRange(path, { offset: 2 << 20 }))).errnoName).toBe('EINVAL');
  });

  it('discards a range as a hole: zeros read back, size kept, blocks freed', async () => {
    const path = join(dir, 'discard.raw');
    await writeFile(path, randomBytes(4 << 20));
    const before = await stat(path);
    expect(await discardRange(path, { offset: 1 << 20, length: 2 << 20 })).toBe(2 << 20);
    const after = await stat(path);
    expect(after.size).toBe(before.size);
    expect(after.blocks).toBeLessThanOrEqual(before.blocks - (2 << 20) / 512);
    expect(isZero(await readRange(path, 1 << 20, 2 << 20))).toBe(true);
  });

  it('overwrites only the range with random bytes', async () => {
    const path = join(dir, 'random.raw');
    await writeFile(path, Buffer.alloc(1 << 20));
    expect(await overwriteRandom(path, { offset: 65536, length: 131072 })).toBe(131072);
    const after = await readFile(path);
    expect(isZero(after.subarray(0, 65536))).toBe(true);
    expect(isZero(after.subarray(65536 + 131072))).toBe(true);
    const range = after.subarray(65536, 65536 + 131072);
    // Random data: nearly no zero bytes (expected 512 of 131072).
    expect(range.filter((b) => b === 0).length).toBeLessThan(2000);
    // Two passes differ.
    await overwriteRandom(path, { offset: 65536, length: 131072 });
    expect((await readFile(path)).subarray(65536, 65536 + 131072).equals(range)).toBe(false);
  });

  it('stops an aborted wipe with ABORTED', async () => {
    const path = join(dir, 'abort-wipe.raw');
    await writeFile(path, Buffer.alloc(1 << 20));
    const ac = new AbortController();
    ac.abort();
    expect((await rejection(overwriteRandom(path, { signal: ac.signal }))).code).toBe('ABORTED');
  });
});

describe('fallocateFile', () => {
  it('allocates with and without keeping the size', async () => {
    const keep = join(dir, 'keep.raw');
    await writeFile(keep, '');
    await fallocateFile(keep, { size: 16 << 20, keepSize: true });
    const k = await stat(keep);
    expect(k.size).toBe(0);
    expect(k.blocks * 512).toBeGreaterThanOrEqual(16 << 20);
    const grow = join(dir, 'grow.raw');
    await writeFile(grow, '');
    await fallocateFile(grow, { size: 16 << 20 });
    const g = await stat(grow);
    expect(g.size).toBe(16 << 20);
    expect(g.blocks * 512).toBeGreaterThanOrEqual(16 << 20);
    expect((await rejection(fallocateFile(join(dir, 'nope'), { size: 1 }))).code).toBe('DISK_NOT_FOUND');
  });
});

describe('copyRawData file -> file', () => {
  let sparseSrc: string;

  beforeAll(async () => {
    // 1 GiB, almost all hole: 1 MiB of data at 0, 4 KiB at 512 MiB, 1 MiB of explicit zeros at 100 MiB.
    sparseSrc = join(dir, 'sparse.raw');
    const handle = await open(sparseSrc, 'w');
    await handle.write(randomBytes(1 << 20), 0, 1 << 20, 0);
    await handle.write(randomBytes(4096), 0, 4096, 512 << 20);
    await handle.write(Buffer.alloc(1 << 20), 0, 1 << 20, 100 << 20);
    await handle.truncate(2 ** 30);
    await handle.close();
  });

  it('keeps holes and zero chunks as holes, with equal contents and monotonic progress', async () => {
    const dst = join(dir, 'sparse-copy.raw');
    const events: Array<[number, number]> = [];
    const result = await copyRawData(sparseSrc, dst, { reflink: 'never', onProgress: (d, t) => events.push([d, t]) });
    expect(result.reflinked).toBe(false);
    expect(result.size).toBe(2 ** 30);
    expect(result.bytesCopied).toBeLessThanOrEqual((1 << 20) + (4 << 20));
    expect(result.bytesCopied + result.bytesSkipped).toBe(2 ** 30);
    const st = await stat(dst);
    expect(st.size).toBe(2 ** 30);
    expect(st.blocks * 512).toBeLessThan(8 << 20);
    expect(sameBytes(dst, sparseSrc)).toBe(true);
    expect(events.length).toBeGreaterThan(0);
    for (let i = 1; i < events.length; i++) expect(events[i]![0]).toBeGreaterThanOrEqual(events[i - 1]![0]);
    expect(events.at(-1)).toEqual([2 ** 30, 2 ** 30]);
  });

  it('writes every byte with sparse: false', async () => {
    const src = join(dir, 'small-sparse.raw');
    await writeFile(src, randomBytes(4096));
    await truncate(src, 8 << 20);
    const dst = join(dir, 'dense-copy.raw');
    const result = await copyRawData(src, dst, { sparse: false, reflink: 'never' });
    expect(result.bytesCopied).toBe(8 << 20);
    expect((await stat(dst)).blocks * 512).toBeGreaterThanOrEqual(8 << 20);
    expect(sameBytes(dst, src)).toBe(true);
  });

  it("refuses an existing destination in 'create' mode and overwrites one in 'existing' mode", async () => {
    const src = join(dir, 'exist-src.raw');
    await writeFile(src, randomBytes(64 << 10));
    await truncate(src, 4 << 20);
    const dst = join(dir, 'exist-dst.raw');
    await writeFile(dst, randomBytes(6 << 20)); // longer, and garbage where src has holes
    const exists = await rejection(copyRawData(src, dst));
    expect(exists.code).toBe('COPY_FAILED');
    expect(exists.errnoName).toBe('EEXIST');
    expect((await stat(dst)).size).toBe(6 << 20); // untouched
    await copyRawData(src, dst, { dstMode: 'existing', reflink: 'never' });
    expect((await stat(dst)).size).toBe(4 << 20);
    expect(sameBytes(dst, src)).toBe(true);
  });

  it("fails with reflink: 'always' where the filesystem cannot clone, leaving nothing behind", async () => {
    const dst = join(dir, 'reflink-always.raw');
    const error = await rejection(copyRawData(sparseSrc, dst, { reflink: 'always' }));
    // /tmp here is ext4; on XFS/btrfs this would clone instead.
    expect(error.code).toBe('COPY_FAILED');
    expect(error.syscall).toBe('ioctl(FICLONE)');
    await expect(stat(dst)).rejects.toThrow(/ENOENT/);
  });

  it('removes the created destination when aborted mid-copy', async () => {
    const src = join(dir, 'dense-src.raw');
    await writeFile(src, '');
    await truncate(src, 512 << 20);
    await overwriteRandom(src);
    const dst = join(dir, 'aborted.raw');
    const ac = new AbortController();
    let last = 0;
    const error = await rejection(
      copyRawData(src, dst, {
        chunkSize: 1 << 20,
        signal: ac.signal,
        onProgress: (done) => {
          last = done;
          ac.abort();
        },
      }),
    );
    expect(error.code).toBe('ABORTED');
    expect(last).toBeLessThan(512 << 20);
    await expect(stat(dst)).rejects.toThrow(/ENOENT/);
  });

  it('reports a missing source as DISK_NOT_FOUND and creates nothing', async () => {
    const dst = join(dir, 'from-missing.raw');
    const error = await rejection(copyRawData(join(dir, 'nope.raw'), dst));
    expect(error.code).toBe('DISK_NOT_FOUND');
    await expect(stat(dst)).rejects.toThrow(/ENOENT/);
  });

  it('refuses to copy a file onto itself', async () => {
    const path = join(dir, 'self.raw');
    await writeFile(path, randomBytes(4096));
    const error = await rejection(copyRawData(path, path, { dstMode: 'existing' }));
    expect(error.errnoName).toBe('EINVAL');
    expect((await readFile(path)).length).toBe(4096);
  });

  it('creates the destination in an existing directory only', async () => {
    const error = await rejection(copyRawData(sparseSrc, join(dir, 'no-such-dir', 'x.raw')));
    expect(error.code).toBe('DISK_NOT_FOUND');
  });
});
