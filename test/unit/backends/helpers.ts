// Shared setup of the backend tests: a temporary instances folder, base
// images made by qemu-img, and fetch functions that count their calls.
import { copyFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import type { FetchFunction } from '../../../src/cache/BaseImageCache.js';
import { qemuImg } from '../image/qemu.js';

export const MiB = 2 ** 20;
export const GiB = 2 ** 30;

export interface CountingFetch {
  fetch: FetchFunction;
  calls: string[];
}

/** A fetch that copies `source` to the target and records each call. */
export function copyingFetch(source: string): CountingFetch {
  const calls: string[] = [];
  return {
    calls,
    fetch: async ({ target }) => {
      calls.push(target);
      await copyFile(source, target);
    },
  };
}

/** A fetch that generates a raw file of `size` bytes in place (an ephemeral disk). */
export function generatingFetch(size: number): CountingFetch {
  const calls: string[] = [];
  return {
    calls,
    fetch: async ({ target }) => {
      calls.push(target);
      await qemuImg('create', '-f', 'raw', target, String(size));
    },
  };
}

/** A raw image with a recognisable first sector, `size` bytes, sparse. */
export async function rawImage(dir: string, name: string, size: number): Promise<string> {
  const path = join(dir, name);
  await qemuImg('create', '-f', 'raw', path, String(size));
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'r+');
  try {
    const sector = Buffer.alloc(512);
    sector.write('imagebackend test base', 0);
    // One Linux partition from 1 MiB: an MBR signature with no partition is unsafe (oslo's check).
    sector[446 + 4] = 0x83;
    sector.writeUInt32LE(2048, 446 + 8);
    sector.writeUInt32LE(1, 446 + 12);
    sector[510] = 0x55;
    sector[511] = 0xaa;
    await fh.write(sector, 0, 512, 0);
  } finally {
    await fh.close();
  }
  return path;
}

/** A qcow2 image pointing at a backing file: what a malicious image upload looks like. */
export async function qcow2WithBacking(dir: string, name: string, backing: string): Promise<string> {
  const path = join(dir, name);
  await qemuImg('create', '-f', 'qcow2', '-b', backing, '-F', 'raw', path);
  return path;
}

/** A qcow2 image with an external data file. */
export async function qcow2WithDataFile(dir: string, name: string): Promise<string> {
  const path = join(dir, name);
  await qemuImg('create', '-f', 'qcow2', '-o', `data_file=${join(dir, `${name}.data`)}`, path, String(MiB));
  return path;
}

export async function writeText(path: string, text: string): Promise<void> {
  await writeFile(path, text);
}
