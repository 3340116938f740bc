import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary folder removed by the returned cleanup. */
export async function tempDir(prefix = 'imagebackend-test-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Writes a sparse file of `size` bytes with random data in the given
 * [offset, length] extents; everything else is a hole.
 */
export async function sparseFile(path: string, size: number, extents: Array<[number, number]>): Promise<void> {
  const fh = await open(path, 'wx');
  try {
    await fh.truncate(size);
    for (const [offset, length] of extents) {
      for (let done = 0; done < length; ) {
        const n = Math.min(8 << 20, length - done);
        await fh.write(randomBytes(n), 0, n, offset + done);
        done += n;
      }
    }
  } finally {
    await fh.close();
  }
}

/** A file full of random bytes. */
export async function denseFile(path: string, size: number): Promise<void> {
  await sparseFile(path, size, [[0, size]]);
}

export async function sha256(path: string): Promise<string> {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** Bytes the file really occupies on disk. */
export async function allocated(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

/** Overwrites bytes of an existing file in place (a latin1 string or a Buffer). */
export async function patch(path: string, offset: number, bytes: Buffer | string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const b = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    await fh.write(b, 0, b.length, offset);
  } finally {
    await fh.close();
  }
}
