// `await using` closes what the library opens: the scope's end (normal or
// thrown out of) closes the cluster connection, the nova driver and the LVM
// runners, and a closed object refuses further work with its typed error.
import { describe, expect, it } from 'vitest';

import { LvmError, RbdClosedError } from '../../src/errors.js';
import { Lvm2Driver } from '../../src/lvm/Lvm2Driver.js';
import { LvmCliRunner } from '../../src/lvm/LvmCliRunner.js';
import { LvmLibRunner } from '../../src/lvm/LvmLibRunner.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { clientDriver, connectClient } from '../helpers/ceph.js';

describe('Symbol.asyncDispose', () => {
  it('closes an RbdCluster at the end of its scope', async () => {
    let held: RbdCluster;
    {
      await using cluster = await connectClient();
      held = cluster;
      expect((await cluster.stats()).total).toBeGreaterThan(0n);
    }
    await expect(held.stats()).rejects.toBeInstanceOf(RbdClosedError);
  });

  it('closes it when the scope is thrown out of', async () => {
    let held: RbdCluster | undefined;
    const failing = async (): Promise<void> => {
      await using cluster = await connectClient();
      held = cluster;
      throw new Error('the caller failed');
    };
    await expect(failing()).rejects.toThrow('the caller failed');
    await expect(held!.pool('vms').image('x').size()).rejects.toBeInstanceOf(RbdClosedError);
  });

  it('closes an RbdDriver (its shared connection) at the end of its scope', async () => {
    let held: RbdDriver;
    let cluster: RbdCluster;
    {
      await using driver = clientDriver();
      held = driver;
      cluster = await driver.cluster();
      expect((await driver.getPoolInfo()).total).toBeGreaterThan(0n);
    }
    await expect(cluster.stats()).rejects.toBeInstanceOf(RbdClosedError);
    expect(held).toBeDefined();
  });

  it('closes the LVM library runner, directly and through Lvm2Driver', async () => {
    let runner: LvmLibRunner;
    {
      await using r = new LvmLibRunner();
      runner = r;
    }
    await expect(runner.run(['vgs'])).rejects.toBeInstanceOf(LvmError);
    await expect(runner.run(['vgs'])).rejects.toThrow(/the runner is closed/);

    const inner = new LvmLibRunner();
    {
      await using _driver = new Lvm2Driver(inner);
    }
    await expect(inner.run(['vgs'])).rejects.toThrow(/the runner is closed/);

    await using cli = new LvmCliRunner();
    expect(typeof cli[Symbol.asyncDispose]).toBe('function');
  });
});
