// Provisioning with no fetch: the image pipeline is the default, against the
// real Glance (its file store, so nothing can be cloned from it) and the real
// cluster. On rbd the first disk streams (raw) or converts (qcow2) the image
// into a base held in the pool, `_base~<filename>`, once however many disks
// (and backends, standing in for processes) ask at once; every disk is a
// clone of its snapshot, and nothing is written under `_base`. A leftover
// staging image is ignored and swept; a base renamed but never snapshotted
// (a kill between the two) is finished without downloading again; unused
// bases are removed, never one with clones. Flat and qcow2 get their base
// file through fetchToRaw. A caller's own fetch gets the context and the
// record the clone attempt already read.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Backend } from '../../src/backends/Backend.js';
import { RBD_BASE_PREFIX, RbdBaseImages } from '../../src/backends/RbdBaseImages.js';
import type { FetchRequest } from '../../src/cache/BaseImageCache.js';
import { cacheFileName } from '../../src/cache/cacheFileName.js';
import { GlanceImageService } from '../../src/images/GlanceImageService.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { cephEnv, clientDriver, connectClient, uniqueName, volumeBytes } from '../helpers/ceph.js';
import { tempDir } from '../helpers/files.js';
import { countingService, glanceEnv, uploadImage, uploadTestImages, type TestImages } from '../helpers/glance.js';
import { compileLibrary, startChild } from '../unit/helpers/compiled.js';

const run = promisify(execFile);
const MiB = 2 ** 20;
const SECRET = '5b3c1b4e-8a9c-4f3e-9d7a-3c1b2a4e5f60';

describe('provisioning with no fetch: the image pipeline through Backend', () => {
  const env = cephEnv();
  const glance = glanceEnv();
  const glanceService = new GlanceImageService({ endpoint: glance.url, cephFsid: env.fsid });
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let driver: RbdDriver;
  let client: RbdCluster;
  let images: TestImages; // 24 MiB raw, 4 MiB of random data; and as qcow2

  beforeAll(async () => {
    tmp = await tempDir('glance-provision-');
    driver = clientDriver(env);
    client = await connectClient(env);
    images = await uploadTestImages(glance.url, tmp.dir);
  });

  afterAll(async () => {
    await driver?.close();
    await client?.close();
    await tmp?.cleanup();
  });

  /** An rbd backend on the test pool with a counting Glance client; `instancesPath` may be shared to stand for two hosts' processes. */
  function rbdBackend(instancesPath: string, counting = countingService(glanceService)) {
    const backend = new Backend({
      instancesPath,
      imagesType: 'rbd',
      imageService: counting.service,
      rbd: { driver, cephConf: env.conf, user: env.client.user, keyring: env.client.keyring, secretUuid: SECRET },
    });
    return { backend, counts: counting.counts };
  }

  /** Everything in the pool named after base `filename`: the base and any staging image of it. */
  const poolEntries = async (filename: string) => (await driver.listVolumes()).filter((n) => n.startsWith(`${RBD_BASE_PREFIX}${filename}`));

  it.each(['rawInFile', 'qcow2InFile'] as const)(
    'rbd, %s: 6 concurrent disks from two backends sharing the lock folder: one download into `_base~<filename>`, six clones of its snapshot, no `_base` file',
    async (which) => {
      const image = images[which];
      const filename = cacheFileName(image.id);
      const instancesPath = join(tmp.dir, uniqueName('rbd'));
      const counting = countingService(glanceService);
      const a = rbdBackend(instancesPath, counting);
      const b = rbdBackend(instancesPath, counting);
      const uuids = Array.from({ length: 6 }, () => uniqueName('inst'));
      const reports = await Promise.all(
        uuids.map((uuid, i) => (i % 2 ? a : b).backend.image({ uuid }, 'disk', 'rbd').cache({ imageId: image.id, size: 32 * MiB, context: {} })),
      );
      expect(counting.counts.download).toBe(1);
      expect(reports.filter((r) => r.fetched)).toHaveLength(1);
      const baseName = `${RBD_BASE_PREFIX}${filename}`;
      for (const report of reports) {
        expect(report).toMatchObject({ created: true, cloned: true, format: 'raw', virtualSize: 32 * MiB, base: `${env.pools.vms}/${baseName}@snap` });
      }
      for (const uuid of uuids) {
        expect(await driver.parentInfo(`${uuid}_disk`)).toMatchObject({ pool: env.pools.vms, image: baseName, snapshot: 'snap' });
        expect(await driver.size(`${uuid}_disk`)).toBe(BigInt(32 * MiB));
      }
      const bytes = await volumeBytes(`${uuids[0]}_disk`, tmp.dir);
      expect(bytes.subarray(0, 24 * MiB).equals(images.sourceBytes)).toBe(true);
      expect(bytes.subarray(24 * MiB).every((x) => x === 0)).toBe(true);
      // Only the base in the pool (no staging image), nothing under _base.
      expect(await poolEntries(filename)).toEqual([baseName]);
      expect(await readdir(a.backend.context.cache.baseDir).catch(() => [])).toEqual([]);
      // The next disk clones at once: no download, not even the record's (the clone attempt reads it once).
      const before = { ...counting.counts };
      const laterUuid = uniqueName('inst');
      uuids.push(laterUuid);
      const later = await a.backend.image({ uuid: laterUuid }, 'disk', 'rbd').cache({ imageId: image.id, size: 32 * MiB, context: {} });
      expect(later).toMatchObject({ created: true, cloned: true, fetched: false });
      expect(counting.counts).toEqual({ get: before.get + 1, download: before.download });

      // The base is not removed while it has clones; once they are gone it is.
      const bases = new RbdBaseImages(a.backend.context);
      expect((await bases.list()).map((x) => x.name)).toContain(baseName);
      const inUse = await bases.removeUnused();
      expect(inUse.inUse).toContain(baseName);
      expect(inUse.removed).not.toContain(baseName);
      expect(await driver.exists(baseName, env.pools.vms, 'snap')).toBe(true);
      const cleanup = await driver.cleanupVolumes((n) => uuids.some((u) => n.startsWith(u)));
      expect(cleanup).toMatchObject({ failed: [] });
      expect(cleanup.removed).toHaveLength(uuids.length);
      const unused = await bases.removeUnused();
      expect(unused.removed).toContain(baseName);
      expect(unused.failed).toEqual([]);
      expect(await poolEntries(filename)).toEqual([]);
      await a.backend.close();
      await b.backend.close();
    },
  );

  it('rbd: a staging image left by a killed attempt is ignored and swept; a base renamed but never snapshotted is finished, not downloaded again', async () => {
    const image = images.rawInFile;
    const filename = cacheFileName(image.id);
    const baseName = `${RBD_BASE_PREFIX}${filename}`;
    // What a process killed mid-stream leaves: a staging image of the base (no watcher once it is dead).
    const abandoned = `${baseName}.ib-staging-deadbeef`;
    await client.pool(env.pools.vms).image(abandoned).create(4 * MiB);
    const { backend, counts } = rbdBackend(join(tmp.dir, uniqueName('crash')));
    const first = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
    expect(await first.cache({ imageId: image.id, size: 24 * MiB, context: {} })).toMatchObject({ created: true, cloned: true, fetched: true });
    expect(counts.download).toBe(1);
    expect(await poolEntries(filename)).toEqual([baseName]);

    // A kill between the rename and the snapshot: the complete base without its snapshot.
    await driver.destroyVolume(first.store.rbdName);
    await driver.removeSnap(baseName, 'snap', { force: true });
    expect(await new RbdBaseImages(backend.context).find(filename)).toBeUndefined();
    const second = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
    expect(await second.cache({ imageId: image.id, size: 24 * MiB, context: {} })).toMatchObject({ created: true, cloned: true, fetched: false });
    expect(counts.download).toBe(1);
    expect((await volumeBytes(second.store.rbdName, tmp.dir)).equals(images.sourceBytes)).toBe(true);
    await driver.destroyVolume(second.store.rbdName);
    expect(await new RbdBaseImages(backend.context).remove(filename)).toBe(true);
    await backend.close();
  });

  describe('across processes', () => {
    let lib: Awaited<ReturnType<typeof compileLibrary>>;
    beforeAll(async () => {
      lib = await compileLibrary();
    }, 120_000);
    afterAll(async () => {
      await lib?.cleanup();
    });
    const childEnv = () => ({ CEPH_CONF: env.conf, CEPH_CLIENT_USER: env.client.user, CEPH_CLIENT_KEYRING: env.client.keyring, CEPH_POOL: env.pools.vms, GLANCE_URL: glance.url });
    const done = (stdout: string) => JSON.parse(stdout.split('\n').find((l) => l.startsWith('done '))!.slice(5)) as { downloads: number; reports: Array<{ fetched: boolean; cloned: boolean }> };

    it('3 processes × 2 disks at once: one download in all, six clones', async () => {
      Object.assign(process.env, childEnv());
      const image = images.rawInFile;
      const instancesPath = join(tmp.dir, uniqueName('procs'));
      const prefixes = [0, 1, 2].map(() => uniqueName('proc'));
      const results = await Promise.all(prefixes.map((prefix) => startChild(lib.dist, '../../integration/children/rbd-base-provision.mjs', [instancesPath, prefix, '2', image.id, String(32 * MiB)], 120_000).done));
      for (const result of results) expect(result, result.stderr).toMatchObject({ code: 0 });
      const outcomes = results.map((r) => done(r.stdout));
      expect(outcomes.reduce((n, o) => n + o.downloads, 0)).toBe(1);
      expect(outcomes.flatMap((o) => o.reports).filter((r) => r.fetched)).toHaveLength(1);
      expect(outcomes.flatMap((o) => o.reports).every((r) => r.cloned)).toBe(true);
      const filename = cacheFileName(image.id);
      for (const prefix of prefixes) {
        for (const i of [0, 1]) expect(await driver.parentInfo(`${prefix}-${i}_disk`)).toMatchObject({ image: `${RBD_BASE_PREFIX}${filename}` });
      }
      await driver.cleanupVolumes((n) => prefixes.some((p) => n.startsWith(p)));
      const bases = new RbdBaseImages(rbdBackend(instancesPath).backend.context);
      expect(await bases.remove(filename)).toBe(true);
    }, 180_000);

    it('a process killed while streaming the base: its staging image is no base, the next disk makes the base anew, and the leftover is swept once its watch is gone', async () => {
      Object.assign(process.env, childEnv());
      const image = await uploadImage(glance.url, images.source, { disk_format: 'raw', store: 'local', name: 'killed' });
      const filename = cacheFileName(image.id);
      const baseName = `${RBD_BASE_PREFIX}${filename}`;
      const instancesPath = join(tmp.dir, uniqueName('killed'));
      const child = startChild(lib.dist, '../../integration/children/rbd-base-provision.mjs', [instancesPath, uniqueName('dead'), '1', image.id, String(32 * MiB), 'hang'], 120_000);
      await child.line((l) => l === 'streaming');
      child.kill('SIGKILL');
      expect((await child.done).signal).toBe('SIGKILL');
      const leftovers = await poolEntries(filename);
      expect(leftovers).toHaveLength(1);
      expect(leftovers[0]).toMatch(/\.ib-staging-[0-9a-f]{8}$/);

      // Not a base: the next disk streams its own and clones it.
      const { backend, counts } = rbdBackend(instancesPath);
      const bases = new RbdBaseImages(backend.context);
      expect(await bases.find(filename)).toBeUndefined();
      const disk = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
      expect(await disk.cache({ imageId: image.id, size: 32 * MiB, context: {} })).toMatchObject({ created: true, cloned: true, fetched: true });
      expect(counts.download).toBe(1);
      expect((await volumeBytes(disk.store.rbdName, tmp.dir)).subarray(0, 24 * MiB).equals(images.sourceBytes)).toBe(true);
      expect((await bases.list()).map((b) => b.name)).toContain(baseName);

      // The leftover goes once Ceph has dropped the dead client's watch (up to 30 s after the kill): swept by
      // the retry above when the watch was already gone, else by the image cache manager's pass.
      const afterRetry = (await poolEntries(filename)).includes(leftovers[0]!);
      const deadline = Date.now() + 90_000;
      const swept: string[] = [];
      while ((await poolEntries(filename)).includes(leftovers[0]!) && Date.now() < deadline) {
        swept.push(...(await bases.removeUnused()).staging);
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
      expect(swept).toEqual(afterRetry ? [leftovers[0]] : []);
      expect(await poolEntries(filename)).toEqual([baseName]); // in use by the disk: kept
      await driver.destroyVolume(disk.store.rbdName);
      expect(await bases.remove(filename)).toBe(true);
      await backend.close();
    }, 180_000);
  });

  it('rbd: a disk too small for the image is refused before anything is made (no base, no disk)', async () => {
    const image = images.rawInFile;
    const { backend, counts } = rbdBackend(join(tmp.dir, uniqueName('small')));
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
    await expect(disk.cache({ imageId: image.id, size: 8 * MiB, context: {} })).rejects.toMatchObject({ code: 'IMAGE_TOO_LARGE' });
    expect(counts.download).toBe(0);
    expect(await disk.exists()).toBe(false);
    expect(await poolEntries(cacheFileName(image.id))).toEqual([]);
    await backend.close();
  });

  it.each(['flat', 'qcow2'] as const)('%s: the base comes through fetchToRaw (a qcow2 image becomes a raw base), once for two disks', async (imagesType) => {
    const counting = countingService(glanceService);
    const backend = new Backend({ instancesPath: join(tmp.dir, uniqueName(imagesType)), imagesType, imageService: counting.service, maxConcurrentDiskOps: 1 });
    const image = images.qcow2InFile;
    const disks = [backend.image({ uuid: uniqueName('inst') }, 'disk'), backend.image({ uuid: uniqueName('inst') }, 'disk')];
    const reports = await Promise.all(disks.map((disk) => disk.cache({ imageId: image.id, size: 32 * MiB, context: {} })));
    expect(reports.filter((r) => r.fetched)).toHaveLength(1);
    expect(counting.counts.download).toBe(1);
    const base = backend.context.cache.path(cacheFileName(image.id));
    expect(reports[0]!.base).toBe(base);
    expect((await readFile(base)).equals(images.sourceBytes)).toBe(true); // converted to raw (force_raw_images)
    const format = imagesType === 'flat' ? 'raw' : 'qcow2';
    const { stdout } = await run('qemu-img', ['info', '--output=json', '-f', format, disks[1]!.path]);
    expect(JSON.parse(stdout)['virtual-size']).toBe(32 * MiB);
    const out = join(tmp.dir, `${uniqueName(imagesType)}.read`);
    await run('qemu-img', ['convert', '-q', '-f', format, '-O', 'raw', disks[1]!.path, out]);
    expect((await readFile(out)).subarray(0, 24 * MiB).equals(images.sourceBytes)).toBe(true);
    await backend.close();
  });

  it("a caller's own fetch still works: it gets the context and the record the clone attempt read (one get, no download by the library)", async () => {
    const { backend, counts } = rbdBackend(join(tmp.dir, uniqueName('ownfetch')));
    const disk = backend.image({ uuid: uniqueName('inst') }, 'disk', 'rbd');
    const context = { authToken: 'token-of-the-request' };
    const requests: FetchRequest[] = [];
    const fetch = async (request: FetchRequest) => {
      requests.push(request);
      await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'raw', images.source, request.target]);
    };
    const report = await disk.cache({ fetch, imageId: images.rawInFile.id, size: 24 * MiB, context, clone: {} });
    expect(report).toMatchObject({ created: true, cloned: false, fetched: true });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ context, image: { id: images.rawInFile.id, status: 'active' } });
    expect(counts).toEqual({ get: 1, download: 0 });
    // The caller's fetch keeps nova's way on rbd: a base file, imported (not a clone).
    await expect(driver.parentInfo(disk.store.rbdName)).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' });
    await driver.destroyVolume(disk.store.rbdName);
    await backend.close();
  });
});
