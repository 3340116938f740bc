// fetchToRbd's logic with an in-memory image service and a recording stand-in
// for RbdDriver.importStream (the real one runs in
// test/integration/glance-rbd-stream.test.ts): chunk sizes that do not fall on
// sector boundaries, the header probe, the digest checked before the import
// completes, nothing left in the work folder.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { fetchToRbd, type StreamImportDriver } from '../../../src/images/fetchToRbd.js';
import type { ImageRecord, ImageService } from '../../../src/images/ImageService.js';

let workDir: string;
beforeEach(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'fetch-to-rbd-'));
});
afterEach(async () => {
  await rm(workDir, { recursive: true, force: true });
});

function service(bytes: Buffer, record: Partial<ImageRecord> = {}, chunk = 100_001): ImageService {
  const full: ImageRecord = {
    id: 'img',
    status: 'active',
    disk_format: 'raw',
    size: bytes.length,
    os_hash_algo: 'sha512',
    os_hash_value: createHash('sha512').update(bytes).digest('hex'),
    ...record,
  };
  return {
    get: async () => full,
    download: async () =>
      (async function* () {
        for (let i = 0; i < bytes.length; i += chunk) yield bytes.subarray(i, i + chunk);
      })(),
  };
}

/** Records what would have been written; like importStream, fails when the source throws. */
function recordingDriver() {
  const volumes = new Map<string, Buffer>();
  const driver: StreamImportDriver = {
    async importStream(source, name, options) {
      const parts: Buffer[] = [];
      for await (const c of source) parts.push(Buffer.from(c));
      const all = Buffer.concat(parts);
      if (all.length !== options.size) throw new Error(`the source ended after ${all.length} of ${options.size} bytes`);
      volumes.set(name, all);
      return { size: all.length, bytesWritten: all.length, bytesSkipped: 0 };
    },
    async createStaged(name, fill) {
      const result = await fill(`${name}.ib-staging-00000000`);
      volumes.set(name, Buffer.alloc(0));
      return result;
    },
    exists: async (name) => volumes.has(name),
  };
  return { driver, volumes };
}

describe('fetchToRbd (stream path)', () => {
  it('streams a raw image in odd-sized chunks into the volume, probing its first MiB', async () => {
    const bytes = Buffer.alloc(3 * 2 ** 20 + 4096);
    bytes.write('data', 2 ** 20 + 7);
    const { driver, volumes } = recordingDriver();
    const result = await fetchToRbd({ imageService: service(bytes), context: {}, imageId: 'img', workDir, rbd: { driver, pool: 'vms', volume: 'v' } });
    expect(result).toMatchObject({ via: 'stream', virtualSize: bytes.length, downloadedBytes: bytes.length, verifiedHash: { algorithm: 'sha512' } });
    expect(volumes.get('v')!.equals(bytes)).toBe(true);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('fails the import on a wrong digest, and refuses a qcow2 header before importing', async () => {
    const bytes = Buffer.alloc(2 ** 20 + 512, 1);
    const { driver, volumes } = recordingDriver();
    await expect(
      fetchToRbd({ imageService: service(bytes, { os_hash_value: 'ab'.repeat(64) }), context: {}, imageId: 'img', workDir, rbd: { driver, pool: 'vms', volume: 'v' } }),
    ).rejects.toMatchObject({ code: 'IMAGE_CHECKSUM_MISMATCH' });
    const qcow2 = Buffer.alloc(2 ** 20);
    qcow2.write('QFI\xfb', 0, 'latin1');
    await expect(fetchToRbd({ imageService: service(qcow2), context: {}, imageId: 'img', workDir, rbd: { driver, pool: 'vms', volume: 'v' } })).rejects.toMatchObject({
      code: expect.stringMatching(/IMAGE_FORMAT_MISMATCH|IMAGE_INVALID/),
    });
    expect(volumes.size).toBe(0);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('refuses an existing volume (RBD_EXISTS) and a tiny image still gets probed', async () => {
    const { driver, volumes } = recordingDriver();
    volumes.set('taken', Buffer.alloc(0));
    await expect(fetchToRbd({ imageService: service(Buffer.alloc(512)), context: {}, imageId: 'img', workDir, rbd: { driver, pool: 'vms', volume: 'taken' } })).rejects.toMatchObject({
      code: 'RBD_EXISTS',
    });
    const tiny = Buffer.from('hello');
    await fetchToRbd({ imageService: service(tiny), context: {}, imageId: 'img', workDir, rbd: { driver, pool: 'vms', volume: 'tiny' } });
    expect(volumes.get('tiny')!.equals(tiny)).toBe(true);
  });
});
