// fetchToRbd against the real Glance and the real cluster: a raw image streams
// from Glance's file store straight into a new volume (no local file), altered
// bytes or a qcow2 claiming to be raw leave no volume, and a qcow2 image is
// downloaded once and converted by qemu-img directly into the volume.
// Needs RbdDriver.importStream (the RBD streaming contract).
import { execFile } from 'node:child_process';
import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fetchToRbd, type StreamImportDriver } from '../../src/images/fetchToRbd.js';
import { GlanceImageService } from '../../src/images/GlanceImageService.js';
import { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { cephEnv, clientDriver, uniqueName } from '../helpers/ceph.js';
import { sparseFile, tempDir } from '../helpers/files.js';
import { glanceEnv, uploadImage, type GlanceImage } from '../helpers/glance.js';

const run = promisify(execFile);
const MiB = 2 ** 20;
const hasImportStream = typeof (RbdDriver.prototype as unknown as Record<string, unknown>).importStream === 'function';

if (!hasImportStream) process.stderr.write('[glance-rbd-stream] skipped: RbdDriver.importStream is not in this build (the RBD streaming contract)\n');

describe.runIf(hasImportStream)('fetchToRbd against a real Glance', () => {
  const env = cephEnv();
  const glance = glanceEnv();
  const service = new GlanceImageService({ endpoint: glance.url, cephFsid: env.fsid });
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let driver: RbdDriver;
  let workDir: string;
  let source: string;
  let sourceBytes: Buffer;
  let rawInFile: GlanceImage;
  let qcow2InFile: GlanceImage;

  beforeAll(async () => {
    tmp = await tempDir('glance-rbd-stream-');
    workDir = join(tmp.dir, '_base');
    await mkdir(workDir);
    driver = clientDriver(env);
    source = join(tmp.dir, 'source.raw');
    await sparseFile(source, 24 * MiB, [
      [0, MiB],
      [9 * MiB, 3 * MiB],
    ]);
    sourceBytes = await readFile(source);
    const qcow2 = join(tmp.dir, 'source.qcow2');
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', source, qcow2]);
    [rawInFile, qcow2InFile] = await Promise.all([
      uploadImage(glance.url, source, { disk_format: 'raw', store: 'local' }),
      uploadImage(glance.url, qcow2, { disk_format: 'qcow2', store: 'local' }),
    ]);
  });

  afterAll(async () => {
    await driver?.close();
    await tmp?.cleanup();
  });

  const target = (volume: string) => ({ driver: driver as unknown as StreamImportDriver, pool: env.pools.vms, volume, user: env.client.user, conf: env.conf });

  async function volumeBytes(name: string): Promise<Buffer> {
    const out = join(tmp.dir, `${name}.read`);
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'raw', `rbd:${env.pools.vms}/${name}:id=${env.client.user}:conf=${env.conf}`, out]);
    try {
      return await readFile(out);
    } finally {
      await rm(out, { force: true });
    }
  }

  it('a raw image in the file store streams straight into the volume: the right bytes, hash verified, no local file', async () => {
    const volume = uniqueName('stream');
    const result = await fetchToRbd({ imageService: service, context: {}, imageId: rawInFile.id, maxSize: 32 * MiB, workDir, rbd: target(volume) });
    expect(result).toMatchObject({ via: 'stream', sourceFormat: 'raw', virtualSize: 24 * MiB, downloadedBytes: 24 * MiB, verifiedHash: { algorithm: 'sha512' } });
    expect(await readdir(workDir)).toEqual([]);
    expect((await volumeBytes(volume)).equals(sourceBytes)).toBe(true);
    await driver.destroyVolume(volume);
  });

  it('altered stored bytes fail the stream with IMAGE_CHECKSUM_MISMATCH and leave no volume', async () => {
    const image = await uploadImage(glance.url, source, { disk_format: 'raw', store: 'local' });
    const fh = await open(join(glance.fileStore, image.id), 'r+');
    await fh.write(Buffer.from('tampered'), 0, 8, 20 * MiB);
    await fh.close();
    const volume = uniqueName('tampered');
    await expect(fetchToRbd({ imageService: service, context: {}, imageId: image.id, workDir, rbd: target(volume) })).rejects.toMatchObject({ code: 'IMAGE_CHECKSUM_MISMATCH' });
    expect(await driver.exists(volume)).toBe(false);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('a qcow2 image whose disk_format says raw is refused before any byte reaches the cluster', async () => {
    const q = join(tmp.dir, 'liar.qcow2');
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', source, q]);
    const image = await uploadImage(glance.url, q, { disk_format: 'raw', store: 'local' });
    const volume = uniqueName('liar');
    await expect(fetchToRbd({ imageService: service, context: {}, imageId: image.id, workDir, rbd: target(volume) })).rejects.toMatchObject({ code: 'IMAGE_FORMAT_MISMATCH' });
    expect(await driver.exists(volume)).toBe(false);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('a qcow2 image is downloaded once and converted directly into the volume (no raw file)', async () => {
    const volume = uniqueName('convert');
    const result = await fetchToRbd({ imageService: service, context: {}, imageId: qcow2InFile.id, workDir, rbd: target(volume) });
    expect(result).toMatchObject({ via: 'convert', sourceFormat: 'qcow2', virtualSize: 24 * MiB });
    expect(result.downloadedBytes).toBe(qcow2InFile.size);
    expect(await readdir(workDir)).toEqual([]);
    expect((await volumeBytes(volume)).equals(sourceBytes)).toBe(true);
    await driver.destroyVolume(volume);
  });
});
