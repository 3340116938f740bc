// The native blockdev operations on real loop devices (root only: without
// root this suite fails in beforeAll with the reason, it never skips).
import { randomBytes } from 'node:crypto';
import { open, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  blockDeviceSize,
  copyRawData,
  discardRange,
  overwriteRandom,
  zeroRange,
} from '../../src/blockdev/index.js';
import { attachLoop, detachLoop, requireRoot, sameBytes, tempDir } from './helpers/system.js';
import { isZero, readRange, rejection } from '../helpers/assert.js';

const SIZE = 64 << 20;
let dir: string;
let removeDir: (() => Promise<void>) | undefined;
const devices: string[] = [];
let loop: string; // 64 MiB
let small: string; // 1 MiB

async function sparseFile(name: string, size: number): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, '');
  await truncate(path, size);
  return path;
}

beforeAll(async () => {
  requireRoot('blockdev loop-device tests');
  ({ dir, remove: removeDir } = await tempDir('loop'));
  loop = attachLoop(await sparseFile('loop.img', SIZE));
  devices.push(loop);
  small = attachLoop(await sparseFile('small.img', 1 << 20));
  devices.push(small);
});

afterAll(async () => {
  const failures: string[] = [];
  for (const device of devices) {
    try {
      detachLoop(device);
    } catch (error) {
      failures.push(`${device}: ${(error as Error).message}`);
    }
  }
  await removeDir?.();
  if (failures.length > 0) throw new Error(`losetup -d failed: ${failures.join('; ')}`);
});

describe('blockdev on a loop device', () => {
  it('reads the size with BLKGETSIZE64', async () => {
    expect(await blockDeviceSize(loop)).toBe(SIZE);
    expect(await blockDeviceSize(small)).toBe(1 << 20);
  });

  it('zeroes a range with BLKZEROOUT; other bytes stay', async () => {
    await overwriteRandom(loop, { offset: 0, length: 4 << 20 });
    const before = await readRange(loop, 0, 4 << 20);
    const events: number[] = [];
    expect(await zeroRange(loop, { offset: 1 << 20, length: 1 << 20, onProgress: (d) => events.push(d) })).toBe(1 << 20);
    const after = await readRange(loop, 0, 4 << 20);
    expect(isZero(after.subarray(1 << 20, 2 << 20))).toBe(true);
    expect(after.subarray(0, 1 << 20).equals(before.subarray(0, 1 << 20))).toBe(true);
    expect(after.subarray(2 << 20).equals(before.subarray(2 << 20))).toBe(true);
    expect(events.at(-1)).toBe(1 << 20);
  });

  it('refuses ranges not aligned to 512 bytes and caps lengths at the device end', async () => {
    const unaligned = await rejection(zeroRange(loop, { offset: 100, length: 512 }));
    expect(unaligned.code).toBe('BLOCKDEV_FAILED');
    expect(unaligned.errnoName).toBe('EINVAL');
    expect(unaligned.message).toMatch(/multiples of 512/);
    expect((await rejection(overwriteRandom(loop, { offset: 0, length: 1000 }))).errnoName).toBe('EINVAL');
    expect(await zeroRange(small, { offset: 512 << 10, length: 64 << 20 })).toBe(512 << 10);
  });

  it('discards a range', async () => {
    await overwriteRandom(small);
    expect(await discardRange(small, { offset: 0, length: 512 << 10 })).toBe(512 << 10);
    // A loop device over a file punches a hole: the range reads back as zeros.
    expect(isZero(await readRange(small, 0, 512 << 10))).toBe(true);
  });

  it('overwrites only the given range with random bytes', async () => {
    await zeroRange(loop, { offset: 8 << 20, length: 4 << 20 });
    expect(await overwriteRandom(loop, { offset: (8 << 20) + 65536, length: 1 << 20 })).toBe(1 << 20);
    const area = await readRange(loop, 8 << 20, 4 << 20);
    expect(isZero(area.subarray(0, 65536))).toBe(true);
    expect(isZero(area.subarray(65536 + (1 << 20)))).toBe(true);
    expect(area.subarray(65536, 65536 + (1 << 20)).filter((b) => b === 0).length).toBeLessThan(10_000);
  });

  it('copies a sparse file onto the device, zeroing what the device held in the holes', async () => {
    await overwriteRandom(loop); // old contents everywhere
    const src = await sparseFile('to-loop.raw', 48 << 20);
    const handle = await open(src, 'r+');
    await handle.write(randomBytes(1 << 20), 0, 1 << 20, 0);
    await handle.write(randomBytes(12345), 0, 12345, 30 << 20);
    await handle.close();
    const events: number[] = [];
    const result = await copyRawData(src, loop, { dstMode: 'existing', onProgress: (d) => events.push(d) });
    expect(result.size).toBe(48 << 20);
    expect(result.bytesCopied + result.bytesSkipped).toBe(48 << 20);
    expect(result.bytesCopied).toBeLessThan(16 << 20);
    expect(sameBytes(src, loop, 48 << 20)).toBe(true);
    // Beyond the source's end the device keeps its old bytes.
    expect(isZero(await readRange(loop, 48 << 20, 1 << 20))).toBe(false);
    for (let i = 1; i < events.length; i++) expect(events[i]).toBeGreaterThan(events[i - 1] as number);
    expect(events.at(-1)).toBe(48 << 20);
  });

  it('copies the device into a new sparse file', async () => {
    await zeroRange(loop);
    await overwriteRandom(loop, { offset: 0, length: 1 << 20 });
    const dst = join(dir, 'from-loop.raw');
    const result = await copyRawData(loop, dst);
    expect(result.size).toBe(SIZE);
    expect(result.bytesCopied).toBe(1 << 20); // zeros read from the device are not written
    const st = await stat(dst);
    expect(st.size).toBe(SIZE);
    expect(st.blocks * 512).toBeLessThan(4 << 20);
    expect(sameBytes(dst, loop)).toBe(true);
  });

  it('refuses a device smaller than the source and never removes a device', async () => {
    const src = await sparseFile('too-big.raw', 2 << 20);
    const error = await rejection(copyRawData(src, small, { dstMode: 'existing' }));
    expect(error.code).toBe('COPY_FAILED');
    expect(error.errnoName).toBe('ENOSPC');
    expect(error.path).toBe(small);
    const exists = await rejection(copyRawData(src, small));
    expect(exists.errnoName).toBe('EEXIST');
    expect((await stat(small)).isBlockDevice()).toBe(true);
  });

  it('leaves an existing device in place when a copy onto it is aborted', async () => {
    const src = await sparseFile('abort-src.raw', 60 << 20);
    await overwriteRandom(src);
    const ac = new AbortController();
    const error = await rejection(
      copyRawData(src, loop, { dstMode: 'existing', chunkSize: 4096, signal: ac.signal, onProgress: () => ac.abort() }),
    );
    expect(error.code).toBe('ABORTED');
    expect((await stat(loop)).isBlockDevice()).toBe(true);
  });
});
