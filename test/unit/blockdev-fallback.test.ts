// The zero-writing fallback: tmpfs has no FALLOC_FL_ZERO_RANGE, so zeroRange
// must write zeros there (root only: it mounts a tmpfs).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { copyRawData, zeroRange } from '../../src/blockdev/index.js';
import { requireRoot, sameBytes, tempDir } from './helpers/system.js';

let mnt: string | undefined;
let removeDir: (() => Promise<void>) | undefined;

beforeAll(async () => {
  requireRoot('the tmpfs fallback tests');
  const tmp = await tempDir('tmpfs');
  removeDir = tmp.remove;
  mnt = join(tmp.dir, 'mnt');
  await mkdir(mnt);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', mnt]);
});

afterAll(async () => {
  try {
    if (mnt) execFileSync('umount', [mnt]);
  } finally {
    await removeDir?.();
  }
});

describe('fallbacks on tmpfs', () => {
  it('zeroRange writes zeros where fallocate(ZERO_RANGE) is unsupported', async () => {
    const path = join(mnt as string, 'zero.raw');
    const data = randomBytes(8 << 20);
    await writeFile(path, data);
    expect(await zeroRange(path, { offset: 1 << 20, length: 5 << 20 })).toBe(5 << 20);
    const after = await readFile(path);
    expect(after.subarray(1 << 20, 6 << 20).every((b) => b === 0)).toBe(true);
    expect(after.subarray(0, 1 << 20).equals(data.subarray(0, 1 << 20))).toBe(true);
    expect(after.subarray(6 << 20).equals(data.subarray(6 << 20))).toBe(true);
  });

  it("copyRawData into an existing file punches the source's holes", async () => {
    const src = join(mnt as string, 'src.raw');
    const buf = Buffer.alloc(8 << 20);
    randomBytes(1 << 20).copy(buf, 0);
    await writeFile(src, buf);
    const dst = join(mnt as string, 'dst.raw');
    await writeFile(dst, randomBytes(8 << 20));
    const result = await copyRawData(src, dst, { dstMode: 'existing' });
    expect(result.bytesCopied).toBe(1 << 20);
    expect(sameBytes(src, dst)).toBe(true);
  });
});
