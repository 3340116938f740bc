// fetchToRbd against the real Glance and the real cluster: a raw image streams
// from Glance's file store straight into a new volume (no local file), altered
// bytes or a qcow2 claiming to be raw leave no volume (and no staging image),
// and a qcow2 image is downloaded once and converted by qemu-img directly
// into the volume, under a staging name renamed when complete.
import { execFile } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fetchToRbd } from '../../src/images/fetchToRbd.js';
import { GlanceImageService } from '../../src/images/GlanceImageService.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { cephEnv, clientDriver, uniqueName, volumeBytes } from '../helpers/ceph.js';
import { tempDir } from '../helpers/files.js';
import { glanceEnv, tamperStoredImage, uploadImage, uploadTestImages, type TestImages } from '../helpers/glance.js';

const run = promisify(execFile);
const MiB = 2 ** 20;

describe('fetchToRbd against a real Glance', () => {
  const env = cephEnv();
  const glance = glanceEnv();
  const service = new GlanceImageService({ endpoint: glance.url, cephFsid: env.fsid });
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let driver: RbdDriver;
  let workDir: string;
  let images: TestImages;

  beforeAll(async () => {
    tmp = await tempDir('glance-rbd-stream-');
    workDir = join(tmp.dir, '_base');
    await mkdir(workDir);
    driver = clientDriver(env);
    images = await uploadTestImages(glance.url, tmp.dir);
  });

  afterAll(async () => {
    await driver?.close();
    await tmp?.cleanup();
  });

  const target = (volume: string) => ({ driver, pool: env.pools.vms, volume, user: env.client.user, conf: env.conf });
  const leftovers = async (volume: string) => (await driver.listVolumes()).filter((n) => n.startsWith(volume));

  it('a raw image in the file store streams straight into the volume: the right bytes, hash verified, no local file', async () => {
    const volume = uniqueName('stream');
    const result = await fetchToRbd({ imageService: service, context: {}, imageId: images.rawInFile.id, maxSize: 32 * MiB, workDir, rbd: target(volume) });
    expect(result).toMatchObject({ via: 'stream', sourceFormat: 'raw', virtualSize: 24 * MiB, downloadedBytes: 24 * MiB, verifiedHash: { algorithm: 'sha512' } });
    expect(await readdir(workDir)).toEqual([]);
    expect((await volumeBytes(volume, tmp.dir)).equals(images.sourceBytes)).toBe(true);
    await driver.destroyVolume(volume);
  });

  it('altered stored bytes fail the stream with IMAGE_CHECKSUM_MISMATCH and leave no volume', async () => {
    const image = await uploadImage(glance.url, images.source, { disk_format: 'raw', store: 'local' });
    await tamperStoredImage(glance, image.id, 20 * MiB);
    const volume = uniqueName('tampered');
    await expect(fetchToRbd({ imageService: service, context: {}, imageId: image.id, workDir, rbd: target(volume) })).rejects.toMatchObject({ code: 'IMAGE_CHECKSUM_MISMATCH' });
    expect(await leftovers(volume)).toEqual([]);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('a qcow2 image whose disk_format says raw is refused before any byte reaches the cluster', async () => {
    const q = join(tmp.dir, 'liar.qcow2');
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', images.source, q]);
    const image = await uploadImage(glance.url, q, { disk_format: 'raw', store: 'local' });
    const volume = uniqueName('liar');
    await expect(fetchToRbd({ imageService: service, context: {}, imageId: image.id, workDir, rbd: target(volume) })).rejects.toMatchObject({ code: 'IMAGE_FORMAT_MISMATCH' });
    expect(await leftovers(volume)).toEqual([]);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('a qcow2 image is downloaded once and converted directly into the volume (no raw file)', async () => {
    const volume = uniqueName('convert');
    const result = await fetchToRbd({ imageService: service, context: {}, imageId: images.qcow2InFile.id, workDir, rbd: target(volume) });
    expect(result).toMatchObject({ via: 'convert', sourceFormat: 'qcow2', virtualSize: 24 * MiB });
    expect(result.downloadedBytes).toBe(images.qcow2InFile.size);
    expect(await leftovers(volume)).toEqual([volume]); // renamed from its staging name
    expect(await readdir(workDir)).toEqual([]);
    expect((await volumeBytes(volume, tmp.dir)).equals(images.sourceBytes)).toBe(true);
    await driver.destroyVolume(volume);
  });
});
