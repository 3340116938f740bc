// RBD sizes past 2^53 (issue 10): librbd's sizes are uint64, and a thin image
// of an exabyte costs nothing until written. The RBD classes return them as
// exact bigints and take bigints (or safe-integer numbers: a larger number is
// already rounded and is refused); the rbd disk store, whose sizes are
// numbers like every store's, refuses such an image with NOT_SUPPORTED
// instead of rounding it.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Backend } from '../../src/backends/Backend.js';
import { InvalidArgumentError, NotSupportedError } from '../../src/errors.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { cephEnv, clientDriver, uniqueName } from '../helpers/ceph.js';
import { tempDir } from '../helpers/files.js';

const MiB = 2 ** 20;
const EiB = 2n ** 60n;
// Layering only: the object map (in the default features) is limited to
// 256 M objects, which a 2^60-byte image of 4 MiB objects (2^38 of them) exceeds.
const THIN = { features: 1 } as const;

describe('RBD sizes past 2^53', () => {
  const env = cephEnv();
  let driver: RbdDriver;
  let cluster: RbdCluster;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  const made: string[] = [];
  const name = (prefix: string) => {
    const n = uniqueName(prefix);
    made.push(n);
    return n;
  };

  beforeAll(async () => {
    tmp = await tempDir();
    driver = clientDriver(env);
    cluster = await driver.cluster();
  });
  afterAll(async () => {
    // Into the trash, not removed: a remove trims every object slot up to the
    // size (2^38 of them for 2^60 bytes), hours of work; the throwaway
    // cluster goes with its trash.
    for (const n of made) {
      try {
        execFileSync('rbd', ['-c', env.conf, '--id', env.admin.user, '--keyring', env.admin.keyring, 'trash', 'mv', `${env.pools.vms}/${n}`], {
          stdio: 'ignore',
        });
      } catch {
        // never created (the refused one)
      }
    }
    await driver?.close();
    await tmp?.cleanup();
  });

  it('creates a thin image of 2^60 bytes and reads its exact size back as a bigint, head and snapshot', async () => {
    const image = cluster.pool(env.pools.vms).image(name('exa'));
    await image.create(EiB, THIN);
    expect(await image.size()).toBe(EiB);
    expect(await driver.size(image.name)).toBe(EiB);
    const stat = await image.stat();
    expect(stat.size).toBe(EiB);
    expect(stat.objects).toBe(Number(EiB / 2n ** 22n));
    await image.createSnapshot('s');
    await image.resize(EiB + 4n * BigInt(MiB));
    expect(await image.size()).toBe(EiB + 4n * BigInt(MiB));
    expect(await image.size('s')).toBe(EiB);
    expect((await image.stat('s')).size).toBe(EiB);
    expect(await image.snapshots()).toEqual([expect.objectContaining({ name: 's', size: EiB })]);
    await image.removeSnapshot('s');
  });

  it('resizes a small image past 2^53 and reads the exact size back; a number can say only safe sizes', async () => {
    const image = cluster.pool(env.pools.vms).image(name('grow'));
    await image.create(MiB, THIN);
    expect(await image.size()).toBe(BigInt(MiB));
    const past = 2n ** 53n + 4096n + 1n; // odd on purpose: 2^53 + 1 is the first integer a number cannot hold
    await driver.resize(image.name, past);
    expect(await image.size()).toBe(past);
    // Safe-integer numbers are taken as they are.
    await image.resize(Number.MAX_SAFE_INTEGER, { allowShrink: true });
    expect(await image.size()).toBe(BigInt(Number.MAX_SAFE_INTEGER));
    // A number past it has been rounded already (2^53 + 1 reads as 2^53): refused, the image untouched.
    for (const size of [Number.MAX_SAFE_INTEGER + 2, 2 ** 60, 1.5, -1, Number.NaN]) {
      const error = await image.resize(size).catch((e: unknown) => e);
      expect(error, String(size)).toBeInstanceOf(InvalidArgumentError);
      expect(error).toMatchObject({ code: 'INVALID_ARGUMENT' });
    }
    await expect(driver.resize(image.name, 2 ** 60)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(image.resize(-1n)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(image.resize(2n ** 64n)).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(await image.size()).toBe(BigInt(Number.MAX_SAFE_INTEGER));
  });

  it('refuses to create from a number past 2^53 - 1 and leaves nothing behind', async () => {
    const n = name('refused');
    const image = cluster.pool(env.pools.vms).image(n);
    const error = await image.create(Number.MAX_SAFE_INTEGER + 2, THIN).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect((error as Error).message).toMatch(/safe integer or a bigint/);
    expect(await image.exists()).toBe(false);
  });

  it('the rbd disk store refuses an image past 2^53 - 1 bytes with NOT_SUPPORTED instead of rounding it', async () => {
    const backend = new Backend({ instancesPath: join(tmp.dir, 'instances'), imagesType: 'rbd', rbd: { driver } });
    const uuid = uniqueName('inst');
    const disk = backend.image({ uuid }, 'disk', 'rbd');
    made.push(disk.store.rbdName);
    await cluster.pool(env.pools.vms).image(disk.store.rbdName).create(EiB, THIN);
    const error = await disk.size().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotSupportedError);
    expect(error).toMatchObject({ code: 'NOT_SUPPORTED', pool: env.pools.vms, image: disk.store.rbdName });
    expect((error as Error).message).toContain(String(EiB));
    // Nothing was changed or removed: the image is there at its size.
    expect(await driver.size(disk.store.rbdName)).toBe(EiB);
  });
});
