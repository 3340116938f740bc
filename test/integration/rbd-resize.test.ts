// Resize never shrinks unless asked (issue 10), at every layer: the native
// binding, RbdImage and RbdDriver. A refused shrink leaves size and data as they were.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { InvalidArgumentError } from '../../src/errors.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { toRbdError } from '../../src/rbd/errors.js';
import { cephEnv, clientDriver, uniqueName } from '../helpers/ceph.js';
import { sha256, sparseFile, tempDir } from '../helpers/files.js';

const MiB = 1 << 20;

describe('RBD resize', () => {
  const env = cephEnv();
  let driver: RbdDriver;
  let cluster: RbdCluster;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let src: string;

  beforeAll(async () => {
    tmp = await tempDir();
    driver = clientDriver(env);
    cluster = await driver.cluster();
    // Data in the last MiB: exactly what a shrink to 4 MiB would drop.
    src = join(tmp.dir, 'data.raw');
    await sparseFile(src, 8 * MiB, [
      [0, MiB],
      [7 * MiB, MiB],
    ]);
  });
  afterAll(async () => {
    await driver?.close();
    await tmp?.cleanup();
  });

  async function imported(): Promise<string> {
    const name = uniqueName('resize');
    await driver.importImage(src, name);
    return name;
  }

  async function expectUnchanged(name: string): Promise<void> {
    expect(await driver.size(name)).toBe(BigInt(8 * MiB));
    const out = join(tmp.dir, `${name}.out`);
    await driver.exportImage(out, name);
    expect(await sha256(out)).toBe(await sha256(src));
  }

  it('RbdImage.resize refuses a shrink by default with INVALID_ARGUMENT and changes nothing', async () => {
    const name = await imported();
    const image = cluster.pool(env.pools.vms).image(name);
    const err = await image.resize(4 * MiB).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', errnoName: 'EINVAL', syscall: 'rbd_resize2', image: name });
    expect((err as Error).message).toMatch(/allowShrink/);
    await expect(image.resize(4 * MiB, { allowShrink: false })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expectUnchanged(name);
    // Growing needs no option; the same size is a no-op.
    await image.resize(12 * MiB);
    expect(await image.size()).toBe(BigInt(12 * MiB));
    await image.resize(12 * MiB);
    expect(await image.size()).toBe(BigInt(12 * MiB));
    await driver.destroyVolume(name);
  });

  it('RbdImage.resize shrinks when asked to', async () => {
    const name = await imported();
    const image = cluster.pool(env.pools.vms).image(name);
    await image.resize(4 * MiB, { allowShrink: true });
    expect(await image.size()).toBe(BigInt(4 * MiB));
    await driver.destroyVolume(name);
  });

  it('RbdDriver.resize refuses a shrink by default and shrinks with allowShrink', async () => {
    const name = await imported();
    await expect(driver.resize(name, MiB)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', errnoName: 'EINVAL' });
    await expectUnchanged(name);
    await driver.resize(name, 16 * MiB);
    expect(await driver.size(name)).toBe(BigInt(16 * MiB));
    await driver.resize(name, MiB, { allowShrink: true });
    expect(await driver.size(name)).toBe(BigInt(MiB));
    await driver.destroyVolume(name);
  });

  it('the native binding defaults allowShrink to false too', async () => {
    const name = await imported();
    const { addon, handle } = cluster.native;
    for (const options of [undefined, {}, { allowShrink: false }]) {
      const err = await addon.rbdResize(handle, env.pools.vms, name, 2 * MiB, options).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'EINVAL', syscall: 'rbd_resize2' });
      expect(toRbdError(err, 'resize')).toBeInstanceOf(InvalidArgumentError);
    }
    await expectUnchanged(name);
    await addon.rbdResize(handle, env.pools.vms, name, 2 * MiB, { allowShrink: true });
    expect(await driver.size(name)).toBe(BigInt(2 * MiB));
    await driver.destroyVolume(name);
  });
});
