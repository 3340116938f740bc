// nova's RBDDriver surface against the real test cluster, as the restricted
// compute user (rbd on `vms`, read-only on `images`).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  ImageUnacceptableError,
  RbdBusyError,
  RbdExistsError,
  RbdNotFoundError,
  RbdPermissionError,
} from '../../src/errors.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { cephEnv, clientDriver, connectAdmin, uniqueName } from '../helpers/ceph.js';
import { sha256, sparseFile, tempDir } from '../helpers/files.js';

const MiB = 1 << 20;

describe('RbdDriver against a real cluster', () => {
  const env = cephEnv();
  let admin: RbdCluster;
  let driver: RbdDriver;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  const base = uniqueName('base');
  let baseFile: string;
  let location: { url: string };

  beforeAll(async () => {
    tmp = await tempDir();
    admin = await connectAdmin(env);
    driver = clientDriver(env);
    // A raw base image in `images`, snapshotted and protected as Glance does.
    baseFile = join(tmp.dir, 'base.raw');
    await sparseFile(baseFile, 16 * MiB, [
      [0, MiB],
      [8 * MiB, 512 * 1024],
    ]);
    const image = admin.pool(env.pools.images).image(base);
    await image.import(baseFile);
    await image.createSnapshot('snap');
    await image.protectSnapshot('snap');
    location = { url: `rbd://${env.fsid}/${env.pools.images}/${base}/snap` };
  });

  afterAll(async () => {
    await driver?.close();
    await admin?.close();
    await tmp?.cleanup();
  });

  it('reports the cluster: fsid, monitors, capacity', async () => {
    expect(await driver.getFsid()).toBe(env.fsid);
    const mons = await driver.getMonAddrs();
    const [host, port] = env.monHost.replace(/^v\d:/, '').split(':');
    expect(mons).toContainEqual(expect.objectContaining({ host, port: Number(port) }));
    const info = await driver.getPoolInfo();
    expect(info.total).toBeGreaterThan(0);
    expect(info.free).toBeGreaterThan(0);
    expect(info.free).toBeLessThanOrEqual(info.total);
  });

  it('creates, sizes, resizes and removes a volume', async () => {
    const name = uniqueName('vol');
    const image = (await driver.cluster()).pool(env.pools.vms).image(name);
    expect(await driver.exists(name)).toBe(false);
    await image.create(8 * MiB, { order: 22 });
    expect(await driver.exists(name)).toBe(true);
    expect(await driver.size(name)).toBe(BigInt(8 * MiB));
    await driver.resize(name, 24 * MiB);
    expect(await driver.size(name)).toBe(BigInt(24 * MiB));
    const stat = await image.stat();
    expect(stat).toMatchObject({ size: BigInt(24 * MiB), order: 22, objectSize: 4 * MiB });
    expect(await (await driver.cluster()).pool(env.pools.vms).list()).toContain(name);
    await expect(image.create(MiB)).rejects.toBeInstanceOf(RbdExistsError);
    await driver.destroyVolume(name);
    expect(await driver.exists(name)).toBe(false);
    await expect(driver.size(name)).rejects.toMatchObject({
      code: 'RBD_NOT_FOUND',
      errnoName: 'ENOENT',
      errno: -2,
      syscall: 'rados_exec',
      pool: env.pools.vms,
      image: name,
    });
  });

  it('size() is never stale: resize by another client, re-create, rename + re-create', async () => {
    const name = uniqueName('sized');
    const other = `${name}-renamed`;
    const mine = (await driver.cluster()).pool(env.pools.vms);
    const theirs = admin.pool(env.pools.vms);
    await mine.image(name).create(2 * MiB);
    expect(await driver.size(name)).toBe(BigInt(2 * MiB));
    await theirs.image(name).resize(6 * MiB);
    expect(await driver.size(name)).toBe(BigInt(6 * MiB));
    await theirs.image(name).remove();
    await theirs.image(name).create(3 * MiB);
    expect(await driver.size(name)).toBe(BigInt(3 * MiB));
    // Rename the image away and create a new one under the old name.
    execFileSync('rbd', ['-c', env.conf, '--id', env.admin.user, '--keyring', env.admin.keyring, 'rename', `${env.pools.vms}/${name}`, `${env.pools.vms}/${other}`]);
    await theirs.image(name).create(5 * MiB);
    expect(await driver.size(name)).toBe(BigInt(5 * MiB));
    expect(await driver.size(other)).toBe(BigInt(3 * MiB));
    // A snapshot's size is its own.
    await mine.image(name).createSnapshot('s');
    await mine.image(name).resize(7 * MiB);
    expect(await mine.image(name).size('s')).toBe(BigInt(5 * MiB));
    expect((await mine.image(name).stat('s')).size).toBe(BigInt(5 * MiB));
    await expect(mine.image(name).size('nosuch')).rejects.toMatchObject({ code: 'RBD_NOT_FOUND', errnoName: 'ENOENT' });
    expect(await mine.image(name).size()).toBe(BigInt(7 * MiB));
    await mine.image(name).removeSnapshot('s');
    for (const n of [name, other]) await driver.destroyVolume(n);
  });

  it('exists() answers as a read-only open would: rename, trash, a header gone, snapshots', async () => {
    const name = uniqueName('exists');
    const renamed = `${name}-renamed`;
    const pool = admin.pool(env.pools.vms);
    const rbdCli = (...args: string[]) =>
      execFileSync('rbd', ['-c', env.conf, '--id', env.admin.user, '--keyring', env.admin.keyring, ...args], { encoding: 'utf8' });
    const radosCli = (...args: string[]) =>
      execFileSync('rados', ['-c', env.conf, '--id', env.admin.user, '--keyring', env.admin.keyring, '-p', env.pools.vms, ...args], { encoding: 'utf8' });
    await pool.image(name).create(MiB);
    await pool.image(name).createSnapshot('s');
    expect(await driver.exists(name)).toBe(true);
    expect(await driver.exists(name, env.pools.vms, 's')).toBe(true);
    expect(await driver.exists(name, env.pools.vms, 'nosuch')).toBe(false);
    // Among several snapshots; a removed one is gone.
    for (const snap of ['t', 'u']) await pool.image(name).createSnapshot(snap);
    expect(await driver.exists(name, env.pools.vms, 'u')).toBe(true);
    await pool.image(name).removeSnapshot('t');
    expect(await driver.exists(name, env.pools.vms, 't')).toBe(false);
    expect(await driver.exists(name, env.pools.vms, 's')).toBe(true);
    expect(await driver.exists(`${name}-nosuch`, env.pools.vms, 's')).toBe(false);
    rbdCli('rename', `${env.pools.vms}/${name}`, `${env.pools.vms}/${renamed}`);
    expect(await driver.exists(name)).toBe(false);
    expect(await driver.exists(renamed)).toBe(true);
    // In the trash: not an image by that name any more.
    rbdCli('trash', 'move', `${env.pools.vms}/${renamed}`);
    expect(await driver.exists(renamed)).toBe(false);
    expect(await driver.exists(renamed, env.pools.vms, 's')).toBe(false);
    // An id object whose header is gone (a remove cut short) cannot be opened.
    await pool.image(name).create(MiB);
    const id = JSON.parse(rbdCli('info', '--format', 'json', `${env.pools.vms}/${name}`)).id as string;
    radosCli('rm', `rbd_header.${id}`);
    expect(await driver.exists(name)).toBe(false);
    // A pool that does not exist is an error, not "no".
    await expect(driver.exists(name, 'nosuchpool')).rejects.toMatchObject({ code: 'RBD_NOT_FOUND' });
    // Best-effort cleanup of what the cluster allows removing.
    for (const args of [['trash', 'purge', env.pools.vms], ['rm', `${env.pools.vms}/${name}`]]) {
      try {
        rbdCli(...args);
      } catch {
        // a half-removed image may refuse; the cluster is temporary
      }
    }
  });

  describe('isCloneable', () => {
    it('accepts a raw image of this cluster whose snapshot can be opened', async () => {
      expect(await driver.isCloneable(location, { disk_format: 'raw' })).toBe(true);
    });
    it('refuses other formats, a missing format, another fsid, a missing snapshot or image', async () => {
      expect(await driver.isCloneable(location, { disk_format: 'qcow2' })).toBe(false);
      expect(await driver.isCloneable(location, {})).toBe(false);
      const otherFsid = { url: `rbd://00000000-0000-0000-0000-000000000000/${env.pools.images}/${base}/snap` };
      expect(await driver.isCloneable(otherFsid, { disk_format: 'raw' })).toBe(false);
      const noSnap = { url: `rbd://${env.fsid}/${env.pools.images}/${base}/nosuch` };
      expect(await driver.isCloneable(noSnap, { disk_format: 'raw' })).toBe(false);
      const noImage = { url: `rbd://${env.fsid}/${env.pools.images}/nosuch/snap` };
      expect(await driver.isCloneable(noImage, { disk_format: 'raw' })).toBe(false);
      const noPool = { url: `rbd://${env.fsid}/nosuchpool/${base}/snap` };
      expect(await driver.isCloneable(noPool, { disk_format: 'raw' })).toBe(false);
    });
    it.each([
      'rbd://image',
      'http://example.com/x',
      'rbd://image/extra',
      'rbd://image/',
      'rbd://fsid/pool/image/',
      'rbd://fsid/pool/image/snap/',
      'rbd://///',
    ])('is false, never a throw, for %s', async (url) => {
      expect(await driver.isCloneable({ url }, { disk_format: 'raw' })).toBe(false);
    });
    it('is false for garbage locations', async () => {
      expect(await driver.isCloneable(undefined as never, { disk_format: 'raw' })).toBe(false);
      expect(await driver.isCloneable({ url: 42 } as never, null as never)).toBe(false);
    });
  });

  it('clones from the protected snapshot, reports the parent, flattens', async () => {
    const name = uniqueName('clone');
    await driver.clone(location, name);
    expect(await driver.size(name)).toBe(BigInt(16 * MiB));
    expect(await driver.parentInfo(name)).toMatchObject({ pool: env.pools.images, image: base, snapshot: 'snap' });
    // The clone reads the parent's bytes.
    const out = join(tmp.dir, `${name}.raw`);
    await driver.exportImage(out, name);
    expect(await sha256(out)).toBe(await sha256(baseFile));
    await driver.flatten(name);
    await expect(driver.parentInfo(name)).rejects.toBeInstanceOf(ImageUnacceptableError);
    await driver.destroyVolume(name);
  });

  it('parentInfo of a missing volume is image-unacceptable', async () => {
    await expect(driver.parentInfo('no-such-volume')).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' });
  });

  it('permission errors of the restricted user are typed', async () => {
    const client = await driver.cluster();
    // Read-only access to images is enough to read sizes there.
    expect(await driver.size(base, env.pools.images)).toBe(BigInt(16 * MiB));
    const denied = client.pool(env.pools.images).image(uniqueName('denied'));
    const err = await denied.create(MiB).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RbdPermissionError);
    expect(err).toMatchObject({ code: 'RBD_PERMISSION', errnoName: 'EPERM', syscall: 'rbd_create4' });
    await expect(driver.clone(location, uniqueName('denied'), env.pools.images)).rejects.toBeInstanceOf(
      RbdPermissionError,
    );
    await expect(driver.createSnap(base, 'mine', { pool: env.pools.images })).rejects.toBeInstanceOf(
      RbdPermissionError,
    );
  });

  it('snapshots: create (protect once), list, rollback, remove as nova does', async () => {
    const name = uniqueName('snaps');
    const file = join(tmp.dir, `${name}.raw`);
    await sparseFile(file, 8 * MiB, [[0, 2 * MiB]]);
    await driver.importImage(file, name);
    await driver.createSnap(name, 'one', { protect: true });
    const image = (await driver.cluster()).pool(env.pools.vms).image(name);
    expect(await image.isSnapshotProtected('one')).toBe(true);
    expect((await image.snapshots()).map((s) => s.name)).toEqual(['one']);

    // Change the data and the size, then roll back.
    await driver.resize(name, 4 * MiB, { allowShrink: true });
    await driver.rollbackToSnap(name, 'one');
    expect(await driver.size(name)).toBe(BigInt(8 * MiB));
    const back = join(tmp.dir, `${name}.back`);
    await driver.exportImage(back, name);
    expect(await sha256(back)).toBe(await sha256(file));
    await expect(driver.rollbackToSnap(name, 'nosuch')).rejects.toBeInstanceOf(RbdNotFoundError);

    // A protected snapshot is skipped without force, removed with it.
    expect(await driver.removeSnap(name, 'one')).toBe(false);
    expect((await image.snapshots()).length).toBe(1);
    expect(await driver.removeSnap(name, 'one', { force: true })).toBe(true);
    expect(await image.snapshots()).toEqual([]);
    expect(await driver.removeSnap(name, 'missing')).toBe(false);
    await driver.destroyVolume(name);
  });

  it('removing a volume with a snapshot is busy; cleanupVolumes clears nova-resize and retries', async () => {
    const prefix = uniqueName('cleanup');
    const client = await driver.cluster();
    const plain = `${prefix}_disk`;
    const resized = `${prefix}_disk.local`;
    const stuck = `${prefix}_disk.swap`;
    for (const n of [plain, resized, stuck]) await client.pool(env.pools.vms).image(n).create(MiB);
    await driver.createSnap(resized, 'nova-resize');
    await driver.createSnap(stuck, 'keep', { protect: true });
    await expect(client.pool(env.pools.vms).image(stuck).remove()).rejects.toBeInstanceOf(RbdBusyError);

    const quick = clientDriver(env, { cluster: client, destroyRetries: 2, destroyRetryIntervalMs: 50 });
    const report = await quick.cleanupVolumes((n) => n.startsWith(prefix));
    expect(report.removed.sort()).toEqual([plain, resized].sort());
    expect(report.failed.map((f) => f.name)).toEqual([stuck]);
    expect(report.failed[0]!.error).toBeInstanceOf(RbdBusyError);
    await driver.removeSnap(stuck, 'keep', { force: true });
    await driver.destroyVolume(stuck);
    expect((await client.pool(env.pools.vms).list()).filter((n) => n.startsWith(prefix))).toEqual([]);
  });

  it('fifty concurrent clones of one protected snapshot all succeed', async () => {
    const names = Array.from({ length: 50 }, (_, i) => uniqueName(`many${i}`));
    await Promise.all(names.map((n) => driver.clone(location, n)));
    const sizes = await Promise.all(names.map((n) => driver.size(n)));
    expect(sizes).toEqual(names.map(() => BigInt(16 * MiB)));
    const parents = await Promise.all(names.map((n) => driver.parentInfo(n)));
    for (const p of parents) expect(p).toMatchObject({ image: base, snapshot: 'snap' });
    const report = await driver.cleanupVolumes((n) => names.includes(n));
    expect(report.failed).toEqual([]);
    expect(report.removed.length).toBe(50);
  });
});
