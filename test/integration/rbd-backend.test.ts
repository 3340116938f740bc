// nova's RbdTestCase against the real test cluster, as the restricted compute
// user (rbd on `vms`, read-only on `images`), with real qemu-img for
// snapshotExtract and libvirt's schema for the XML.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Backend } from '../../src/backends/Backend.js';
import { canClone, canDirectSnapshot, canImportFile, canSnapshot } from '../../src/backends/DiskStore.js';
import { RbdStore } from '../../src/backends/RbdStore.js';
import type { ImageService, ImageServiceImage } from '../../src/backends/types.js';
import { cacheFileName } from '../../src/cache/cacheFileName.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { domainWith, validateDomain, xpath } from '../unit/helpers/libvirt.js';
import { qemuImg, qemuInfo } from '../unit/image/qemu.js';
import { cephEnv, clientDriver, connectAdmin, uniqueName } from '../helpers/ceph.js';
import { sparseFile, tempDir } from '../helpers/files.js';

const MiB = 2 ** 20;
const SECRET = '5b3c1b4e-8a9c-4f3e-9d7a-3c1b2a4e5f60';

describe('Rbd image backend against a real cluster (nova RbdTestCase)', () => {
  const env = cephEnv();
  let admin: RbdCluster;
  let driver: RbdDriver;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let source: string;
  let backend: Backend<'rbd'>;
  const images = new Map<string, ImageServiceImage>();
  const imageService: ImageService = {
    get: async (_context, id) => {
      const meta = images.get(id);
      if (!meta) throw new Error(`no image ${id}`);
      return meta;
    },
  };
  const glanceImage = uniqueName('glance');

  beforeAll(async () => {
    tmp = await tempDir();
    admin = await connectAdmin(env);
    driver = clientDriver(env);
    source = join(tmp.dir, 'base.raw');
    await sparseFile(source, 16 * MiB, [
      [0, MiB],
      [8 * MiB, 256 * 1024],
    ]);
    // A raw image in `images`, snapshotted and protected as Glance's rbd store does.
    const image = admin.pool(env.pools.images).image(glanceImage);
    await image.import(source);
    await image.createSnapshot('snap');
    await image.protectSnapshot('snap');
    images.set('raw-image', {
      id: 'raw-image',
      disk_format: 'raw',
      locations: [{ url: 'file:///nowhere' }, { url: `rbd://${env.fsid}/${env.pools.images}/${glanceImage}/snap` }],
    });
    images.set('qcow2-image', { id: 'qcow2-image', disk_format: 'qcow2', locations: images.get('raw-image')?.locations ?? [] });
    images.set('elsewhere', { id: 'elsewhere', disk_format: 'raw', locations: [{ url: `rbd://other-fsid/${env.pools.images}/${glanceImage}/snap` }] });
    backend = new Backend({
      instancesPath: join(tmp.dir, 'instances'),
      imagesType: 'rbd',
      imageService,
      rbd: { driver, cephConf: env.conf, user: env.client.user, keyring: env.client.keyring, secretUuid: SECRET },
    });
  });

  afterAll(async () => {
    await backend?.close();
    await driver?.close();
    await admin?.close();
    await tmp?.cleanup();
  });

  const fetchSource = () => {
    const calls: string[] = [];
    return {
      calls,
      fetch: async ({ target }: { target: string }) => {
        calls.push(target);
        await qemuImg('convert', '-f', 'raw', '-O', 'raw', source, target);
      },
    };
  };

  it('test_image_path: rbd:pool/<uuid>_<disk>:id=user:conf=file, shared block storage', () => {
    const disk = backend.image({ uuid: 'abc' }, 'disk');
    expect(disk.store).toBeInstanceOf(RbdStore);
    expect(disk.store.rbdName).toBe('abc_disk');
    expect([canClone, canSnapshot, canDirectSnapshot, canImportFile].map((has) => has(disk.store))).toEqual([true, true, true, true]);
    expect(disk.path).toBe(`rbd:${env.pools.vms}/abc_disk:id=${env.client.user}:conf=${env.conf}`);
    expect(disk.isSharedBlockStorage()).toBe(true);
  });

  it('test_cache / test_create_image_resize: base fetched once, imported, grown to the size; the disk size is the volume size', async () => {
    const uuid = uniqueName('inst');
    const disk = backend.image({ uuid }, 'disk');
    expect(await disk.exists()).toBe(false);
    const { fetch, calls } = fetchSource();
    const report = await disk.cache({ fetch, filename: cacheFileName('raw-image'), imageId: 'raw-image', size: 32 * MiB });
    expect(report).toMatchObject({ created: true, cloned: false, fetched: true, format: 'raw', virtualSize: 32 * MiB });
    expect(calls).toHaveLength(1);
    expect(await disk.exists()).toBe(true);
    expect(await driver.size(disk.store.rbdName)).toBe(BigInt(32 * MiB));
    expect(await disk.size()).toBe(32 * MiB);
    // test_cache_image_exists: nothing fetched or imported again.
    const again = fetchSource();
    await disk.cache({ fetch: again.fetch, filename: cacheFileName('raw-image'), imageId: 'raw-image', size: 32 * MiB });
    expect(again.calls).toEqual([]);
    // The volume's size is checked, not the local base's: 16 MiB asked of a 32 MiB volume.
    await expect(
      disk.cache({ fetch: again.fetch, filename: cacheFileName('raw-image'), imageId: 'raw-image', size: 16 * MiB }),
    ).rejects.toMatchObject({ code: 'FLAVOR_DISK_TOO_SMALL', baseSize: 32 * MiB, requestedSize: 16 * MiB });
    // grow never shrinks (the volume keeps its 32 MiB).
    expect(await disk.grow(16 * MiB)).toBe(false);
    expect(await driver.size(disk.store.rbdName)).toBe(BigInt(32 * MiB));
    await driver.destroyVolume(disk.store.rbdName);
  });

  it('cache with clone (clone_fallback_to_fetch): a clone of the snapshot grown to the size; nothing fetched or cached', async () => {
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk');
    const { fetch, calls } = fetchSource();
    const filename = cacheFileName(uniqueName('clone-image'));
    const report = await disk.cache({ fetch, filename, imageId: 'raw-image', size: 48 * MiB, clone: { context: {} } });
    expect(report).toMatchObject({ created: true, cloned: true, fetched: false, base: undefined, virtualSize: 48 * MiB });
    expect(calls).toEqual([]);
    expect(await driver.parentInfo(disk.store.rbdName)).toMatchObject({ pool: env.pools.images, image: glanceImage, snapshot: 'snap' });
    expect(await driver.size(disk.store.rbdName)).toBe(BigInt(48 * MiB));
    await expect(readFile(backend.context.cache.path(filename))).rejects.toMatchObject({ code: 'ENOENT' });
    // Cached again: already there, nothing cloned or fetched.
    await disk.cache({ fetch, filename, imageId: 'raw-image', size: 48 * MiB, clone: { context: {} } });
    expect(calls).toEqual([]);
    // The clone's size is what the flavor is checked against.
    await expect(disk.cache({ fetch, filename, imageId: 'raw-image', size: 32 * MiB, clone: {} })).rejects.toMatchObject({
      code: 'FLAVOR_DISK_TOO_SMALL',
      baseSize: 48 * MiB,
    });
    await driver.destroyVolume(disk.store.rbdName);
  });

  it('cache with clone falls back to fetch + import when the image is not cloneable; neverDownload refuses instead', async () => {
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk');
    const refused = fetchSource();
    await expect(
      disk.cache({ fetch: refused.fetch, filename: cacheFileName('elsewhere'), imageId: 'elsewhere', size: 32 * MiB, clone: { neverDownload: true } }),
    ).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE', message: expect.stringMatching(/no image locations are accessible/) });
    expect(refused.calls).toEqual([]);
    expect(await disk.exists()).toBe(false);

    const { fetch, calls } = fetchSource();
    await disk.cache({ fetch, filename: cacheFileName('elsewhere'), imageId: 'elsewhere', size: 32 * MiB, clone: { context: {} } });
    expect(calls).toHaveLength(1);
    expect(await driver.size(disk.store.rbdName)).toBe(BigInt(32 * MiB));
    await expect(driver.parentInfo(disk.store.rbdName)).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' });
    await driver.destroyVolume(disk.store.rbdName);
  });

  it('test_create_image_too_small: FLAVOR_DISK_TOO_SMALL against the imported volume', async () => {
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk');
    await expect(disk.cache({ ...fetchSource(), filename: cacheFileName('raw-image'), imageId: 'raw-image', size: MiB })).rejects.toMatchObject({
      code: 'FLAVOR_DISK_TOO_SMALL',
    });
    await driver.destroyVolume(disk.store.rbdName);
  });

  it('test__remove_non_raw_cache_image: a qcow2 base is refused (IMAGE_UNACCEPTABLE), nothing imported', async () => {
    const q = join(tmp.dir, 'q.qcow2');
    await qemuImg('convert', '-f', 'raw', '-O', 'qcow2', source, q);
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk');
    const fetch = async ({ target }: { target: string }) => qemuImg('convert', '-f', 'qcow2', '-O', 'qcow2', q, target).then(() => undefined);
    await expect(disk.cache({ fetch, filename: cacheFileName('q-image'), imageId: 'q-image' })).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' });
    expect(await disk.exists()).toBe(false);
    // The next attempt removes the non-raw base and fetches again.
    const raw = fetchSource();
    await disk.cache({ fetch: raw.fetch, filename: cacheFileName('q-image'), imageId: 'q-image' });
    expect(raw.calls).toHaveLength(1);
    expect(await driver.size(disk.store.rbdName)).toBe(BigInt(16 * MiB));
    await driver.destroyVolume(disk.store.rbdName);
  });

  it('clone: the first cloneable location is cloned; flatten detaches it, and flattening a flat volume is a no-op', async () => {
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk');
    await disk.store.clone({}, 'raw-image');
    expect(await driver.parentInfo(disk.store.rbdName)).toMatchObject({ pool: env.pools.images, image: glanceImage, snapshot: 'snap' });
    await disk.store.flatten();
    await expect(driver.parentInfo(disk.store.rbdName)).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' });
    await disk.store.flatten();
    await driver.destroyVolume(disk.store.rbdName);
  });

  it('clone refuses non-raw images and images with no accessible location (IMAGE_UNACCEPTABLE)', async () => {
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk');
    await expect(disk.store.clone({}, 'qcow2-image')).rejects.toThrow(/not raw format/);
    await expect(disk.store.clone({}, 'elsewhere')).rejects.toThrow(/no image locations are accessible/);
    await expect(disk.store.clone({}, 'elsewhere')).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' });
    expect(await disk.exists()).toBe(false);
  });

  it('test_libvirt_info: network rbd source with the monitors, cephx auth, iotune; valid per libvirt schema', async () => {
    const disk = backend.image({ uuid: 'abc' }, 'disk');
    const virtio = await disk.libvirtInfo({ diskBus: 'virtio', diskDev: 'vda', cacheMode: 'writeback', extraSpecs: { 'quota:disk_total_iops_sec': '500' } });
    const scsi = await disk.libvirtInfo({ diskBus: 'scsi', diskDev: 'sdb', diskUnit: 2, bootOrder: 2 });
    const doc = domainWith(`${virtio.toXml()}\n${scsi.toXml()}`);
    const result = validateDomain(doc);
    expect(result.output).toContain('validates');
    expect(xpath(doc, 'string(//disk[1]/@type)').trim()).toBe('network');
    expect(xpath(doc, 'string(//disk[1]/source/@protocol)').trim()).toBe('rbd');
    expect(xpath(doc, 'string(//disk[1]/source/@name)').trim()).toBe(`${env.pools.vms}/abc_disk`);
    const [host, port] = env.monHost.replace(/^v\d:/, '').split(':');
    expect(virtio.source.type === 'network' && virtio.source.hosts).toContainEqual({ name: host, port: Number(port) });
    expect(xpath(doc, 'string(//disk[1]/auth/@username)').trim()).toBe(env.client.user);
    expect(xpath(doc, 'string(//disk[1]/auth/secret/@uuid)').trim()).toBe(SECRET);
    expect(xpath(doc, 'string(//disk[1]/driver/@type)').trim()).toBe('raw');
    expect(xpath(doc, 'string(//disk[1]/iotune/total_iops_sec)').trim()).toBe('500');
    expect(xpath(doc, 'string(//disk[2]/address/@unit)').trim()).toBe('2');
    expect(await disk.resolveDriverFormat()).toBe('raw');
  });

  it('snapshotExtract reads the volume through qemu-img rbd: and writes a local image', async () => {
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk');
    await disk.cache({ ...fetchSource(), filename: cacheFileName('raw-image'), imageId: 'raw-image', size: 24 * MiB });
    const target = join(tmp.dir, `${disk.store.rbdName}.qcow2`);
    await disk.snapshotExtract(target, 'qcow2');
    const info = await qemuInfo(target);
    expect(info).toMatchObject({ format: 'qcow2', 'virtual-size': 24 * MiB });
    const raw = join(tmp.dir, `${disk.store.rbdName}.raw`);
    await disk.snapshotExtract(raw, 'raw');
    expect((await readFile(raw)).subarray(0, 16 * MiB).equals(await readFile(source))).toBe(true);
    await driver.destroyVolume(disk.store.rbdName);
  });

  it('snapshots: createSnap, rollbackToSnap, removeSnap; importFile replaces a volume', async () => {
    const uuid = uniqueName('inst');
    const disk = backend.image({ uuid }, 'disk');
    await disk.cache({ ...fetchSource(), filename: cacheFileName('raw-image'), imageId: 'raw-image' });
    await disk.store.createSnap('nova-resize');
    expect(await disk.grow(48 * MiB)).toBe(true);
    await disk.store.rollbackToSnap('nova-resize');
    expect(await driver.size(disk.store.rbdName)).toBe(BigInt(16 * MiB));
    expect(await disk.store.removeSnap('nova-resize')).toBe(true);
    expect(await disk.store.removeSnap('nova-resize', { ignoreErrors: true })).toBe(false);
    await expect(disk.store.rollbackToSnap('gone')).rejects.toMatchObject({ code: 'RBD_NOT_FOUND' });

    const config = join(tmp.dir, 'disk.config');
    await sparseFile(config, 2 * MiB, [[0, 4096]]);
    await disk.store.importFile({ uuid }, config, 'disk.config');
    await disk.store.importFile({ uuid }, config, 'disk.config');
    expect(await driver.size(`${uuid}_disk.config`)).toBe(BigInt(2 * MiB));
    await driver.destroyVolume(`${uuid}_disk.config`);
    await driver.destroyVolume(disk.store.rbdName);
  });

  it('directSnapshot: clone of a snapshot flattened into the parent pool, protected snap, URL returned; cleanup removes it', async () => {
    // The compute user may not write `images`: the direct snapshot runs as admin, as an operator would configure it.
    const adminDriver = clientDriver(env, { user: env.admin.user, keyring: env.admin.keyring });
    const adminBackend = new Backend({ instancesPath: join(tmp.dir, 'instances'), imagesType: 'rbd', imageService, rbd: { driver: adminDriver } });
    try {
      const disk = adminBackend.image({ uuid: uniqueName('inst') }, 'disk');
      await disk.store.clone({}, 'raw-image');
      const newImage = uniqueName('snapshot-image');
      const url = await disk.store.directSnapshot({}, 'tmp-snap', 'raw', newImage, 'raw-image');
      expect(url).toBe(`rbd://${env.fsid}/${env.pools.images}/${newImage}/snap`);
      expect(await adminDriver.exists(newImage, env.pools.images, 'snap')).toBe(true);
      await expect(adminDriver.parentInfo(newImage, env.pools.images)).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' });
      // The temporary snapshot of the instance disk is gone.
      expect(await adminDriver.exists(disk.store.rbdName, env.pools.vms, 'tmp-snap')).toBe(false);
      await disk.store.cleanupDirectSnapshot({ url }, { alsoDestroyVolume: true });
      expect(await adminDriver.exists(newImage, env.pools.images)).toBe(false);
      await adminDriver.destroyVolume(disk.store.rbdName);
    } finally {
      await adminDriver.close();
    }
  });
});
