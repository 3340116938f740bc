// A full filesystem (issue 13): the copy's error names ENOSPC (not ENOENT),
// and what a failed call wrote is gone: no partial copy, no half-written
// overlay, no blocks kept by a failed preallocation. A 1 MiB tmpfs stands in
// for the full disk (needs root to mount; the suite fails, never skips, without).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { copyRawData, fallocateFile } from '../../src/blockdev/index.js';
import { createQcow2Overlay } from '../../src/image/overlay.js';
import { rejection } from '../helpers/assert.js';

let dir: string;
let full: string;
let mounted = false;

beforeAll(async () => {
  if (process.getuid?.() !== 0) throw new Error('the ENOSPC tests mount a tmpfs: run them as root; they fail rather than skip');
  dir = await mkdtemp(join(tmpdir(), 'ib-enospc-'));
  full = join(dir, 'small');
  await mkdir(full);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', full]);
  mounted = true;
});

afterAll(async () => {
  if (mounted) execFileSync('umount', [full]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function usedBytes(): Promise<number> {
  const s = await statfs(full);
  return (s.blocks - s.bfree) * s.bsize;
}

describe('a full filesystem', () => {
  it('copyRawData fails with ENOSPC (COPY_FAILED) and leaves no partial copy', async () => {
    const src = join(dir, 'src.raw');
    await writeFile(src, randomBytes(3 << 20));
    for (const options of [{}, { sparse: false }, { reflink: 'never' as const, chunkSize: 65536 }]) {
      const error = await rejection(copyRawData(src, join(full, 'copy.raw'), options));
      expect({ code: error.code, errnoName: error.errnoName, path: error.path }).toEqual({
        code: 'COPY_FAILED',
        errnoName: 'ENOSPC',
        path: join(full, 'copy.raw'),
      });
      expect(error.message).toContain('ENOSPC');
      expect(await readdir(full)).toEqual([]);
    }
    expect(await usedBytes()).toBe(0);
  });

  it('an overlay that does not fit fails with ENOSPC and is removed', async () => {
    // Fill the filesystem but for a few KiB, then ask for an overlay whose
    // metadata (512-byte clusters, a 1 TiB disk: a large L1 table) cannot fit.
    const filler = join(full, 'filler');
    await writeFile(filler, Buffer.alloc((1 << 20) - 16384, 1));
    const base = join(dir, 'base.raw');
    await writeFile(base, Buffer.alloc(1 << 20));
    const overlay = join(full, 'overlay.qcow2');
    const error = await rejection(createQcow2Overlay(overlay, { backingFile: base, backingFormat: 'raw', size: 2 ** 40, clusterSize: 4096 }));
    expect({ code: error.code, errnoName: error.errnoName }).toEqual({ code: 'IO_ERROR', errnoName: 'ENOSPC' });
    expect(await readdir(full)).toEqual(['filler']);
    await rm(filler);
  });

  it('a failed preallocation gives its blocks back', async () => {
    const disk = join(full, 'disk');
    await writeFile(disk, '');
    for (const keepSize of [true, false]) {
      const error = await rejection(fallocateFile(disk, { size: 8 << 20, keepSize }));
      expect(error.errnoName).toBe('ENOSPC');
      expect((await stat(disk)).size).toBe(0);
      expect(await usedBytes()).toBe(0);
    }
  });
});
