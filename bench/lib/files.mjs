// Test files: raw images of a given size with a given share of random data.
import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

/**
 * Writes a raw file of `bytes` (a multiple of 1 MiB). `dataFraction` 1 is
 * dense random data; 0.1 puts a random 1 MiB at the start of every 10 MiB
 * and leaves the rest as holes (reads as zeros), like a freshly installed
 * cloud image.
 */
export async function makeRawFile(path, bytes, dataFraction) {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(bytes);
    const stride = Math.round(1 / dataFraction);
    const chunk = Buffer.alloc(4 * MiB);
    const step = stride === 1 ? chunk.length : MiB;
    for (let at = 0, i = 0; at < bytes; at += step, i++) {
      if (stride !== 1 && i % stride !== 0) continue;
      randomFillSync(chunk, 0, step);
      await fh.write(chunk, 0, Math.min(step, bytes - at), at);
    }
  } finally {
    await fh.close();
  }
  return path;
}
