// copyRawData's FICLONE path on a real XFS (reflink=1) mounted from a loop
// device: the ext4 /tmp cannot clone, so this is where reflink is proven.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { copyRawData } from '../../src/blockdev/index.js';
import { attachLoop, detachLoop, requireRoot, sameBytes, tempDir } from './helpers/system.js';

let removeDir: (() => Promise<void>) | undefined;
let device: string | undefined;
let mnt: string | undefined;

beforeAll(async () => {
  requireRoot('the reflink test (XFS on a loop device)');
  const tmp = await tempDir('xfs');
  removeDir = tmp.remove;
  const image = join(tmp.dir, 'xfs.img');
  await writeFile(image, '');
  await truncate(image, 320 << 20); // mkfs.xfs's minimum is 300 MiB
  execFileSync('mkfs.xfs', ['-q', '-m', 'reflink=1', image]);
  device = attachLoop(image);
  mnt = join(tmp.dir, 'mnt');
  await mkdir(mnt);
  execFileSync('mount', [device, mnt]);
});

afterAll(async () => {
  try {
    if (mnt) execFileSync('umount', [mnt]);
  } finally {
    if (device) detachLoop(device);
    await removeDir?.();
  }
});

describe('copyRawData with reflink', () => {
  it("clones with 'auto' and 'always', and copies with 'never'", async () => {
    const src = join(mnt as string, 'src.raw');
    await writeFile(src, randomBytes(2 << 20));
    await truncate(src, 16 << 20);
    const auto = await copyRawData(src, join(mnt as string, 'auto.raw'));
    expect(auto.reflinked).toBe(true);
    const always = await copyRawData(src, join(mnt as string, 'always.raw'), { reflink: 'always' });
    expect(always.reflinked).toBe(true);
    const never = await copyRawData(src, join(mnt as string, 'never.raw'), { reflink: 'never' });
    expect(never.reflinked).toBe(false);
    expect(never.bytesCopied).toBe(2 << 20);
    for (const name of ['auto.raw', 'always.raw', 'never.raw']) {
      expect(sameBytes(src, join(mnt as string, name))).toBe(true);
    }
  });

  it('clones over a longer existing file and leaves it the source size', async () => {
    const src = join(mnt as string, 'short.raw');
    await writeFile(src, randomBytes(1 << 20));
    const dst = join(mnt as string, 'long.raw');
    await writeFile(dst, randomBytes(3 << 20));
    const result = await copyRawData(src, dst, { dstMode: 'existing', reflink: 'always' });
    expect(result.reflinked).toBe(true);
    expect(sameBytes(src, dst)).toBe(true);
  });
});
