// The image pipeline against a real Glance (scripts/glance-fixture.sh: file and
// rbd stores, the rbd store on the test cluster's `images` pool) and the real
// cluster, through fetchToRaw and the public Backend API with a fetch that runs
// fetchToRaw: clones in both location configurations, qcow2 to raw, every
// refusal leaving no file, no lock and no volume, a direct snapshot registered
// back, and the Flat and Qcow2 backends fed by the same pipeline.
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Backend } from '../../src/backends/Backend.js';
import { cacheFileName } from '../../src/cache/cacheFileName.js';
import { ImageBackendError } from '../../src/errors.js';
import { fetchToRaw, imageServiceFetch } from '../../src/images/fetchToRaw.js';
import { GlanceImageService } from '../../src/images/GlanceImageService.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { cephEnv, clientDriver, uniqueName } from '../helpers/ceph.js';
import { sparseFile, tempDir } from '../helpers/files.js';
import { glanceEnv, uploadImage, type GlanceImage } from '../helpers/glance.js';

const run = promisify(execFile);
const MiB = 2 ** 20;
const SECRET = '5b3c1b4e-8a9c-4f3e-9d7a-3c1b2a4e5f60';

describe('image pipeline against a real Glance', () => {
  const env = cephEnv();
  const glance = glanceEnv();
  const direct = new GlanceImageService({ endpoint: glance.url, cephFsid: env.fsid });
  const withLocations = new GlanceImageService({ endpoint: glance.locationsUrl, cephFsid: env.fsid });
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let driver: RbdDriver;
  let adminDriver: RbdDriver;
  let source: string; // 16 MiB raw, 1.25 MiB of random data
  let sourceBytes: Buffer;
  let rawInCeph: GlanceImage;
  let rawInFile: GlanceImage;
  let qcow2InFile: GlanceImage;

  beforeAll(async () => {
    tmp = await tempDir('glance-pipeline-');
    driver = clientDriver(env);
    adminDriver = clientDriver(env, { user: env.admin.user, keyring: env.admin.keyring });
    source = join(tmp.dir, 'source.raw');
    await sparseFile(source, 16 * MiB, [
      [0, MiB],
      [8 * MiB, 256 * 1024],
    ]);
    sourceBytes = await readFile(source);
    const qcow2 = join(tmp.dir, 'source.qcow2');
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', source, qcow2]);
    [rawInCeph, rawInFile, qcow2InFile] = await Promise.all([
      uploadImage(glance.url, source, { disk_format: 'raw', store: 'ceph' }),
      uploadImage(glance.url, source, { disk_format: 'raw', store: 'local' }),
      uploadImage(glance.url, qcow2, { disk_format: 'qcow2', store: 'local' }),
    ]);
  });

  afterAll(async () => {
    await driver?.close();
    await adminDriver?.close();
    await tmp?.cleanup();
  });

  function rbdBackend(name: string, imageService: GlanceImageService): Backend {
    return new Backend({
      instancesPath: join(tmp.dir, name),
      imagesType: 'rbd',
      imageService,
      rbd: { driver, cephConf: env.conf, user: env.client.user, keyring: env.client.keyring, secretUuid: SECRET },
    });
  }

  /** The first `n` bytes of an RBD volume in `vms`, read with qemu-img as the compute user. */
  async function volumeBytes(name: string): Promise<Buffer> {
    const out = join(tmp.dir, `${name}.read`);
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'raw', `rbd:${env.pools.vms}/${name}:id=${env.client.user}:conf=${env.conf}`, out]);
    try {
      return await readFile(out);
    } finally {
      await rm(out, { force: true });
    }
  }

  it('fetchToRaw: a qcow2 image from the file store becomes raw with the right bytes; the record is read with its hash', async () => {
    const target = join(tmp.dir, 'direct-fetch.raw');
    const result = await fetchToRaw({ imageService: direct, context: {}, imageId: qcow2InFile.id, target, maxSize: 16 * MiB });
    expect(result).toMatchObject({ sourceFormat: 'qcow2', format: 'raw', virtualSize: 16 * MiB, converted: true, verifiedHash: { algorithm: 'sha512', field: 'os_hash_value' } });
    expect((await readFile(target)).equals(sourceBytes)).toBe(true);
    await rm(target);
  });

  it.each([
    ['direct_url only', () => direct],
    ['locations shown', () => withLocations],
  ])('a raw image in the rbd store is cloned (%s): the volume is a child of images/<id>@snap, nothing downloaded', async (_name, service) => {
    const imageService = service();
    const record = await imageService.get({}, rawInCeph.id, { includeLocations: true });
    expect(record.locations![0]).toMatchObject({ url: `rbd://${env.fsid}/${glance.ceph.pool}/${rawInCeph.id}/snap` });
    const backend = rbdBackend(uniqueName('clone'), imageService);
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
    let downloads = 0;
    const fetch = imageServiceFetch({ imageService: { get: (...a) => imageService.get(...a), download: (...a) => (downloads++, imageService.download(...a)) }, context: {}, imageId: rawInCeph.id });
    await disk.cache({ fetch, filename: cacheFileName(rawInCeph.id), imageId: rawInCeph.id, size: 32 * MiB, clone: { context: {} } });
    expect(downloads).toBe(0);
    expect(await driver.parentInfo(disk.store.rbdName)).toMatchObject({ pool: glance.ceph.pool, image: rawInCeph.id, snapshot: 'snap' });
    expect(await driver.size(disk.store.rbdName)).toBe(BigInt(32 * MiB));
    expect((await volumeBytes(disk.store.rbdName)).subarray(0, 16 * MiB).equals(sourceBytes)).toBe(true);
    await driver.destroyVolume(disk.store.rbdName);
    await backend.close();
  });

  it('a Glance outage is an error, never a silent download', async () => {
    const down = new GlanceImageService({ endpoint: 'http://127.0.0.1:1', retries: 0 });
    const backend = rbdBackend(uniqueName('outage'), down);
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
    let fetched = 0;
    const fetch = async () => {
      fetched++;
    };
    await expect(disk.cache({ fetch, filename: cacheFileName(rawInCeph.id), imageId: rawInCeph.id, size: 32 * MiB, clone: { context: {} } })).rejects.toMatchObject({
      code: 'IMAGE_SERVICE_UNAVAILABLE',
    });
    expect(fetched).toBe(0);
    expect(await disk.exists()).toBe(false);
    await backend.close();
  });

  it('a raw image in the file store (not cloneable) is fetched, verified and becomes the RBD volume', async () => {
    const backend = rbdBackend(uniqueName('rawfile'), direct);
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
    const fetch = imageServiceFetch({ imageService: direct, context: {}, imageId: rawInFile.id });
    await disk.cache({ fetch, filename: cacheFileName(rawInFile.id), imageId: rawInFile.id, size: 16 * MiB, clone: { context: {} } });
    await expect(driver.parentInfo(disk.store.rbdName)).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' }); // not a clone
    expect((await volumeBytes(disk.store.rbdName)).equals(sourceBytes)).toBe(true);
    await driver.destroyVolume(disk.store.rbdName);
    await backend.close();
  });

  it('a qcow2 image in the file store becomes a raw RBD volume with the right bytes', async () => {
    const backend = rbdBackend(uniqueName('qcow2'), direct);
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
    const fetch = imageServiceFetch({ imageService: direct, context: {}, imageId: qcow2InFile.id });
    await disk.cache({ fetch, filename: cacheFileName(qcow2InFile.id), imageId: qcow2InFile.id, size: 32 * MiB, clone: { context: {} } });
    expect(await driver.size(disk.store.rbdName)).toBe(BigInt(32 * MiB));
    const bytes = await volumeBytes(disk.store.rbdName);
    expect(bytes.subarray(0, 16 * MiB).equals(sourceBytes)).toBe(true);
    expect(bytes.subarray(16 * MiB).every((b) => b === 0)).toBe(true);
    await driver.destroyVolume(disk.store.rbdName);
    await backend.close();
  });

  describe('refusals leave no file, no lock and no volume', () => {
    async function expectRefused(image: GlanceImage, code: string): Promise<ImageBackendError> {
      const backend = rbdBackend(uniqueName('refuse'), direct);
      const disk = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
      const filename = cacheFileName(image.id);
      const fetch = imageServiceFetch({ imageService: direct, context: {}, imageId: image.id });
      const error = await disk.cache({ fetch, filename, imageId: image.id, size: 32 * MiB, clone: { context: {} } }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ImageBackendError);
      expect(error).toMatchObject({ code });
      const cacheDir = backend.context.cache.baseDir;
      expect((await readdir(cacheDir).catch(() => [])).filter((f) => f !== 'locks')).toEqual([]);
      expect(await disk.exists()).toBe(false);
      // The base's lock is free: taking it does not wait.
      const t = Date.now();
      await backend.context.locks.synchronized(filename, async () => undefined);
      expect(Date.now() - t).toBeLessThan(5_000);
      await backend.close();
      return error as ImageBackendError;
    }

    it('a qcow2 image whose disk_format says raw: IMAGE_FORMAT_MISMATCH', async () => {
      const q = join(tmp.dir, 'liar.qcow2');
      await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', source, q]);
      await expectRefused(await uploadImage(glance.url, q, { disk_format: 'raw', store: 'local' }), 'IMAGE_FORMAT_MISMATCH');
    });

    it('a qcow2 with a data file: IMAGE_UNSAFE', async () => {
      const q = join(tmp.dir, 'datafile.qcow2');
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${join(tmp.dir, 'datafile.bin')}`, q, '16M']);
      const error = await expectRefused(await uploadImage(glance.url, q, { disk_format: 'qcow2', store: 'local' }), 'IMAGE_UNSAFE');
      expect(error.message).toMatch(/data file/);
    });

    it('a qcow2 with a backing file: IMAGE_UNSAFE', async () => {
      const q = join(tmp.dir, 'backed.qcow2');
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', source, '-F', 'raw', q]);
      const error = await expectRefused(await uploadImage(glance.url, q, { disk_format: 'qcow2', store: 'local' }), 'IMAGE_UNSAFE');
      expect(error.message).toMatch(/backing file/);
    });

    it('a VMDK whose flat extent points at a host file: IMAGE_UNSAFE', async () => {
      const v = join(tmp.dir, 'flat.vmdk');
      await run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', v, '1M']);
      const descriptor = (await readFile(v, 'utf8')).replace(/"flat-flat\.vmdk"/, '"/etc/hostname"');
      expect(descriptor).toContain('/etc/hostname');
      await writeFile(v, descriptor);
      const error = await expectRefused(await uploadImage(glance.url, v, { disk_format: 'vmdk', store: 'local' }), 'IMAGE_UNSAFE');
      expect(error.message).toMatch(/extent/);
    });

    it('an image whose stored bytes were altered after upload: IMAGE_CHECKSUM_MISMATCH', async () => {
      const image = await uploadImage(glance.url, source, { disk_format: 'raw', store: 'local' });
      const stored = join(glance.fileStore, image.id);
      const fh = await open(stored, 'r+');
      await fh.write(Buffer.from('tampered'), 0, 8, 4 * MiB);
      await fh.close();
      await expectRefused(image, 'IMAGE_CHECKSUM_MISMATCH');
    });
  });

  it.each([
    ['locations shown: the rbd location is added', () => withLocations, 'location'],
    ['direct_url only: the bytes are uploaded', () => direct, 'upload'],
  ])('a direct snapshot is registered back into Glance and is downloadable (%s)', async (_name, service, via) => {
    const imageService = service();
    // Direct snapshots write into Glance's pool: nova's compute user then has rwx on `images`.
    const backend = new Backend({
      instancesPath: join(tmp.dir, uniqueName('snap')),
      imagesType: 'rbd',
      imageService,
      rbd: { driver: adminDriver, cephConf: env.conf, user: env.admin.user, keyring: env.admin.keyring, secretUuid: SECRET },
    });
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
    await disk.store.clone({}, rawInCeph.id);
    const record = await imageService.create({}, { name: 'snapshot', disk_format: 'raw', container_format: 'bare' });
    const url = await disk.store.directSnapshot({}, uniqueName('snap'), 'raw', record.id, rawInCeph.id);
    expect(url).toBe(`rbd://${env.fsid}/${glance.ceph.pool}/${record.id}/snap`);
    const exported = join(tmp.dir, `${record.id}.export`);
    const registered = await imageService.registerSnapshot({}, {
      imageId: record.id,
      diskFormat: 'raw',
      location: url,
      upload: async () => {
        await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'raw', `rbd:${glance.ceph.pool}/${record.id}@snap:id=${env.admin.user}:conf=${env.conf}`, exported]);
        return createReadStream(exported);
      },
    });
    expect(registered.via).toBe(via);
    expect(registered.image.status).toBe('active');
    const chunks: Buffer[] = [];
    for await (const c of await imageService.download({}, record.id)) chunks.push(Buffer.from(c));
    expect(Buffer.concat(chunks).equals(sourceBytes)).toBe(true);
    await driver.destroyVolume(disk.store.rbdName);
    await backend.close();
  });

  it.each(['flat', 'qcow2'] as const)('the %s backend gets its base through the same pipeline (raw base from a qcow2 image)', async (imagesType) => {
    const backend = new Backend({ instancesPath: join(tmp.dir, uniqueName(imagesType)), imagesType, imageService: direct });
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk');
    const filename = cacheFileName(qcow2InFile.id);
    await disk.cache({ fetch: imageServiceFetch({ imageService: direct, context: {}, imageId: qcow2InFile.id }), filename, imageId: qcow2InFile.id, size: 32 * MiB });
    const base = backend.context.cache.path(filename);
    expect((await readFile(base)).equals(sourceBytes)).toBe(true); // converted to raw (force_raw_images)
    const { stdout } = await run('qemu-img', ['info', '--output=json', '-f', imagesType === 'flat' ? 'raw' : 'qcow2', disk.path]);
    expect(JSON.parse(stdout)['virtual-size']).toBe(32 * MiB);
    const out = join(tmp.dir, `${imagesType}.read`);
    await run('qemu-img', ['convert', '-q', '-f', imagesType === 'flat' ? 'raw' : 'qcow2', '-O', 'raw', disk.path, out]);
    expect((await readFile(out)).subarray(0, 16 * MiB).equals(sourceBytes)).toBe(true);
    await backend.close();
  });
});
