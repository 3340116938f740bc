// Hostile RBD names (issue 13): a NUL byte used to truncate a name in librbd
// (`image('victim\0junk').remove()` removed `victim`), and `/`, `@`, `-x`,
// newlines made images the rbd CLI cannot address. Every layer refuses them
// with INVALID_ARGUMENT, and the image they would have hit is untouched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InvalidArgumentError } from '../../src/errors.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { toRbdError } from '../../src/rbd/errors.js';
import { cephEnv, clientDriver, connectAdmin, uniqueName } from '../helpers/ceph.js';

const MiB = 1 << 20;
const HOSTILE = ['a/b', 'a@b', '-x', '../x', 'a\nb', 'tab\there', '', '.', '..', 'x'.repeat(1001)];

describe('RBD name validation', () => {
  const env = cephEnv();
  let admin: RbdCluster;
  let driver: RbdDriver;
  let cluster: RbdCluster;
  const victim = uniqueName('victim');
  const base = uniqueName('victimimg');

  beforeAll(async () => {
    admin = await connectAdmin(env);
    driver = clientDriver(env);
    cluster = await driver.cluster();
    await cluster.pool(env.pools.vms).image(victim).create(MiB);
    await cluster.pool(env.pools.vms).image(victim).createSnapshot('snap');
    const img = admin.pool(env.pools.images).image(base);
    await img.create(MiB);
    await img.createSnapshot('snap');
    await img.protectSnapshot('snap');
  });
  afterAll(async () => {
    await driver?.close();
    await admin?.close();
  });

  const expectInvalid = (fn: () => unknown) => {
    let caught: unknown;
    try {
      fn();
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InvalidArgumentError);
    expect(caught).toMatchObject({ code: 'INVALID_ARGUMENT' });
  };

  it('a NUL byte never reaches librbd: the victim survives every layer', async () => {
    const pool = cluster.pool(env.pools.vms);
    const nul = `${victim}\0junk`;
    expectInvalid(() => pool.image(nul));
    await expect(driver.destroyVolume(nul)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(driver.size(nul)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(driver.resize(nul, 2 * MiB)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(pool.image(victim).removeSnapshot('snap\0x')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(pool.image(victim).createSnapshot('other\0x')).rejects.toBeInstanceOf(InvalidArgumentError);
    // The native layer re-checks: a direct call with the truncating name throws before any work.
    const { addon, handle } = cluster.native;
    for (const call of [
      () => addon.rbdRemove(handle, env.pools.vms, nul),
      () => addon.rbdSnapRemove(handle, env.pools.vms, victim, 'snap\0x'),
      () => addon.rbdList(handle, `${env.pools.vms}\0x`),
      () => addon.rbdClone(handle, env.pools.images, `${base}\0x`, 'snap', env.pools.vms, uniqueName('c')),
    ]) {
      let caught: unknown;
      try {
        await call();
      } catch (e) {
        caught = e;
      }
      expect(caught).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      expect(toRbdError(caught, 'x')).toBeInstanceOf(InvalidArgumentError);
    }
    expect(await pool.image(victim).exists()).toBe(true);
    expect((await pool.image(victim).snapshots()).map((s) => s.name)).toEqual(['snap']);
  });

  it('a location with %00 in the image is refused, never cloned from the truncated name', async () => {
    const url = `rbd://${env.fsid}/${env.pools.images}/${base}%00x/snap`;
    expect(await driver.isCloneable({ url }, { disk_format: 'raw' })).toBe(false);
    const child = uniqueName('nulclone');
    await expect(driver.clone({ url }, child)).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' });
    expect(await driver.exists(child)).toBe(false);
    for (const bad of ['%2Fx', 'a%40b', '-x', 'a%0Ab']) {
      const u = `rbd://${env.fsid}/${env.pools.images}/${bad}/snap`;
      await expect(driver.clone({ url: u }, uniqueName('c'))).rejects.toMatchObject({ code: 'IMAGE_UNACCEPTABLE' });
    }
    // The well-formed location still clones.
    const ok = uniqueName('okclone');
    await driver.clone({ url: `rbd://${env.fsid}/${env.pools.images}/${base}/snap` }, ok);
    expect(await driver.exists(ok)).toBe(true);
    await driver.destroyVolume(ok);
  });

  it.each(HOSTILE.map((n) => [JSON.stringify(n).slice(0, 40), n]))(
    'refuses %s as an image, snapshot and pool name at every layer',
    async (_label, name) => {
      const pool = cluster.pool(env.pools.vms);
      expectInvalid(() => pool.image(name));
      expectInvalid(() => cluster.pool(name));
      expectInvalid(() => clientDriver(env, { pool: name }));
      await expect(driver.exists(name)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(driver.createSnap(victim, name)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(pool.image(victim).exists(name)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(pool.image(victim).size(name)).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(
        admin.pool(env.pools.images).image(base).clone('snap', pool, name),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
      // Native re-check (an empty string is refused by the type check, the rest by the
      // name rules; natively the limit leaves room for the staging suffix: 1024 bytes).
      const { addon, handle } = cluster.native;
      let caught: unknown;
      try {
        await addon.rbdCreate(handle, env.pools.vms, name.length > 1000 ? 'x'.repeat(1025) : name, MiB);
      } catch (e) {
        caught = e;
      }
      expect(toRbdError(caught, 'create')).toBeInstanceOf(InvalidArgumentError);
      expect((await pool.list()).filter((n) => n.includes('\n') || n.includes('/') || n.startsWith('-'))).toEqual([]);
    },
  );

  it('accepts what nova and Glance name things: <uuid>_disk.local, image ids, snap', async () => {
    const uuid = '3f1c9b3e-0a5e-4c1e-9a43-7d6f1d5b2c11';
    for (const name of [`${uuid}_disk`, `${uuid}_disk.local`, `${uuid}_disk.rescue`, `${uuid}_disk.config`]) {
      expect(cluster.pool(env.pools.vms).image(name).name).toBe(name);
    }
    expect(await cluster.pool(env.pools.vms).image(victim).exists('snap')).toBe(true);
  });

  it('argument type errors from the native layer are INVALID_ARGUMENT, not RBD_ERROR', async () => {
    const image = cluster.pool(env.pools.vms).image(uniqueName('types'));
    await expect(image.create('big' as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(image.create(-1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(image.import('/dev/null', { chunkSize: 7 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
