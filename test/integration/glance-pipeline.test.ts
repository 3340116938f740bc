// The image pipeline against a real Glance (scripts/glance-fixture.sh: file and
// rbd stores, the rbd store on the test cluster's `images` pool) and the real
// cluster, through fetchToRaw and the public Backend API with no fetch (the
// pipeline is the provisioning default): clones in both location
// configurations, a Glance outage, every refusal leaving no file, no lock and
// no volume (no base image, no staging image), and a direct snapshot
// registered back. glance-provision.test.ts covers the bases: made once, then
// cloned (rbd) or copied (flat, qcow2).
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Backend } from '../../src/backends/Backend.js';
import { RBD_BASE_PREFIX } from '../../src/backends/RbdBaseImages.js';
import { cacheFileName } from '../../src/cache/cacheFileName.js';
import { ImageBackendError } from '../../src/errors.js';
import { fetchToRaw } from '../../src/images/fetchToRaw.js';
import { GlanceImageService } from '../../src/images/GlanceImageService.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { cephEnv, clientDriver, uniqueName, volumeBytes } from '../helpers/ceph.js';
import { tempDir } from '../helpers/files.js';
import { countingService, glanceEnv, tamperStoredImage, uploadImage, uploadTestImages, type GlanceImage, type TestImages } from '../helpers/glance.js';

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
  let images: TestImages; // 16 MiB raw, 1.25 MiB of random data
  let source: string;
  let sourceBytes: Buffer;
  let rawInCeph: GlanceImage;
  let qcow2InFile: GlanceImage;

  beforeAll(async () => {
    tmp = await tempDir('glance-pipeline-');
    driver = clientDriver(env);
    adminDriver = clientDriver(env, { user: env.admin.user, keyring: env.admin.keyring });
    images = await uploadTestImages(glance.url, tmp.dir, {
      size: 16 * MiB,
      extents: [
        [0, MiB],
        [8 * MiB, 256 * 1024],
      ],
      ceph: true,
    });
    ({ source, sourceBytes, qcow2InFile } = images);
    rawInCeph = images.rawInCeph!;
  });

  afterAll(async () => {
    await driver?.close();
    await adminDriver?.close();
    await tmp?.cleanup();
  });

  const counts = (c: ReturnType<typeof countingService>) => ({ ...c.counts });

  function rbdBackend(name: string, imageService: Pick<GlanceImageService, 'get' | 'download'>): Backend {
    return new Backend({
      instancesPath: join(tmp.dir, name),
      imagesType: 'rbd',
      imageService,
      rbd: { driver, cephConf: env.conf, user: env.client.user, keyring: env.client.keyring, secretUuid: SECRET },
    });
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
    const counting = countingService(imageService);
    const backend = rbdBackend(uniqueName('clone'), counting.service);
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
    // No fetch: the pipeline tries the clone first, as nova's spawn does.
    const report = await disk.cache({ imageId: rawInCeph.id, size: 32 * MiB, context: {} });
    expect(report).toMatchObject({ created: true, cloned: true, fetched: false, base: undefined });
    expect(counts(counting)).toEqual({ get: 1, download: 0 });
    expect(await driver.parentInfo(disk.store.rbdName)).toMatchObject({ pool: glance.ceph.pool, image: rawInCeph.id, snapshot: 'snap' });
    expect(await driver.size(disk.store.rbdName)).toBe(BigInt(32 * MiB));
    expect((await volumeBytes(disk.store.rbdName, tmp.dir)).subarray(0, 16 * MiB).equals(sourceBytes)).toBe(true);
    await driver.destroyVolume(disk.store.rbdName);
    await backend.close();
  });

  it('a Glance outage is an error, never a silent download', async () => {
    const down = new GlanceImageService({ endpoint: 'http://127.0.0.1:1', retries: 0 });
    const backend = rbdBackend(uniqueName('outage'), down);
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
    await expect(disk.cache({ imageId: rawInCeph.id, size: 32 * MiB, context: {} })).rejects.toMatchObject({ code: 'IMAGE_SERVICE_UNAVAILABLE' });
    expect(await disk.exists()).toBe(false);
    expect(await readdir(backend.context.cache.baseDir).catch(() => [])).toEqual([]);
    await backend.close();
  });

  describe('refusals leave no file, no lock and no volume', () => {
    /** Provisions `image` with no fetch on rbd, then on flat: refused with `code` each time, leaving nothing. */
    async function expectRefused(image: GlanceImage, code: string): Promise<ImageBackendError> {
      let refusal: ImageBackendError | undefined;
      for (const imagesType of ['rbd', 'raw'] as const) {
        const backend =
          imagesType === 'rbd' ? rbdBackend(uniqueName('refuse'), direct) : new Backend({ instancesPath: join(tmp.dir, uniqueName('refuse')), imagesType, imageService: direct });
        const disk = backend.image({ uuid: uniqueName('inst') }, 'disk');
        const filename = cacheFileName(image.id);
        const error = await disk.cache({ imageId: image.id, size: 32 * MiB, context: {} }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ImageBackendError);
        expect(error).toMatchObject({ code });
        const cacheDir = backend.context.cache.baseDir;
        expect(await readdir(cacheDir).catch(() => [])).toEqual([]);
        expect(await disk.exists()).toBe(false);
        // No base image in the pool, and no staging image of one.
        expect((await driver.listVolumes()).filter((n) => n.startsWith(`${RBD_BASE_PREFIX}${filename}`))).toEqual([]);
        // The base's lock is free: taking it does not wait.
        const t = Date.now();
        await backend.context.locks.synchronized(filename, async () => undefined);
        expect(Date.now() - t).toBeLessThan(5_000);
        await backend.close();
        refusal = error as ImageBackendError;
      }
      return refusal!;
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
      await tamperStoredImage(glance, image.id, 4 * MiB);
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
});
