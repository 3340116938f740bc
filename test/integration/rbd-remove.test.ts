// Removing volumes nova's way against real watchers (issue 14, nova bug
// 1856845: a stopped guest's qemu may still watch the image), and the rescue
// clean-up helper (nova bug 1475652).
import { spawn, execFileSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RbdBusyError } from '../../src/errors.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { cephEnv, clientDriver, uniqueName } from '../helpers/ceph.js';

const MiB = 1 << 20;

describe('RBD volume removal', () => {
  const env = cephEnv();
  let driver: RbdDriver;
  let cluster: RbdCluster;
  const cli = ['-c', env.conf, '--id', env.admin.user, '--keyring', env.admin.keyring];
  const watchers = (name: string) =>
    (JSON.parse(execFileSync('rbd', [...cli, 'status', '--format', 'json', `${env.pools.vms}/${name}`], { encoding: 'utf8' })) as {
      watchers: unknown[];
    }).watchers;

  // A second client holding the image open as a guest's qemu does: `rbd watch`.
  async function watch(name: string): Promise<ChildProcessWithoutNullStreams> {
    const proc = spawn('rbd', [...cli, 'watch', `${env.pools.vms}/${name}`]);
    const deadline = Date.now() + 20_000;
    while (watchers(name).length === 0) {
      if (Date.now() > deadline) throw new Error('rbd watch did not register');
      await new Promise((r) => setTimeout(r, 200));
    }
    return proc;
  }

  beforeAll(async () => {
    driver = clientDriver(env);
    cluster = await driver.cluster();
  });
  afterAll(async () => {
    await driver?.close();
  });

  it('a watched volume is busy; destroyVolume retries until the watcher lets go', async () => {
    const name = uniqueName('watched');
    await cluster.pool(env.pools.vms).image(name).create(MiB);
    const watcher = await watch(name);
    await expect(cluster.pool(env.pools.vms).image(name).remove()).rejects.toBeInstanceOf(RbdBusyError);
    // The watcher closes the image cleanly 2 s from now (enter ends `rbd watch`).
    setTimeout(() => watcher.stdin.end('\n'), 2000);
    const quick = clientDriver(env, { cluster, destroyRetries: 50, destroyRetryIntervalMs: 250 });
    const started = performance.now();
    await quick.destroyVolume(name);
    expect(performance.now() - started).toBeGreaterThan(1500);
    expect(await driver.exists(name)).toBe(false);
  });

  it('a watcher that dies without closing expires after osd_client_watch_timeout; the default window outlasts it', async () => {
    const timeout = Number(execFileSync('ceph', [...cli, 'config', 'get', 'osd', 'osd_client_watch_timeout'], { encoding: 'utf8' }).trim());
    // The defaults (12 attempts, 5 s apart: 55 s) outlast Ceph's watch timeout.
    expect(timeout).toBe(30);
    expect((12 - 1) * 5).toBeGreaterThan(timeout);
    const name = uniqueName('orphanwatch');
    await cluster.pool(env.pools.vms).image(name).create(MiB);
    const watcher = await watch(name);
    watcher.kill('SIGKILL'); // a qemu killed with the guest: no unwatch
    const started = performance.now();
    await driver.destroyVolume(name); // nova's defaults
    const elapsed = (performance.now() - started) / 1000;
    expect(await driver.exists(name)).toBe(false);
    // Removed only once the orphaned watch expired (a little before 30 s is the OSD's tick).
    expect(elapsed).toBeGreaterThan(timeout - 10);
    expect(elapsed).toBeLessThan(55 + 5);
  }, 90_000);

  it('removeRescueVolumes removes <uuid>_disk.rescue and nothing else of the instance', async () => {
    const uuid = '7d1f7e2a-5b7e-4a39-9c57-0f4b2d7e9a10'.slice(0, 24) + uniqueName('x').slice(2);
    const pool = cluster.pool(env.pools.vms);
    const other = `${uniqueName('other')}_disk.rescue`;
    const keep = [`${uuid}_disk`, `${uuid}_disk.local`, `${uuid}_disk.config`, other];
    for (const n of [...keep, `${uuid}_disk.rescue`]) await pool.image(n).create(MiB);
    const report = await driver.removeRescueVolumes(uuid);
    expect(report).toEqual({ removed: [`${uuid}_disk.rescue`], failed: [] });
    const left = (await pool.list()).filter((n) => n.startsWith(uuid) || n === other);
    expect(left.sort()).toEqual(keep.sort());
    expect(await driver.removeRescueVolumes(uuid)).toEqual({ removed: [], failed: [] });
    for (const n of keep) await pool.image(n).remove();
  });
});
