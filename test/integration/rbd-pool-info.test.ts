// Pool figures (issue 14): getPoolInfo used raw cluster bytes
// (rados_cluster_stat), which ignore replication. It now reports the pool's
// own figures from `ceph df`, checked against the ceph CLI on a pool of size 2
// next to the cluster's size-1 pools: `ceph df` divides the pool's max_avail
// by its replica count, so the size-2 pool has about half the free space of
// the size-1 one while the raw figure is the same. The size-2 pool stays
// empty: on this one-OSD cluster its objects could only be degraded (one copy
// of two), and Ceph then scales max_avail by the copies that exist; the
// stored/used figures are checked on a size-1 pool with data in it. Both
// pools are this test's own: the shared ones change as other tests write.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RbdNotFoundError } from '../../src/errors.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { cephEnv, clientDriver, connectAdmin, uniqueName } from '../helpers/ceph.js';

const MiB = 1 << 20;

interface CephDf {
  stats: { total_bytes: number; total_avail_bytes: number };
  pools: Array<{ name: string; stats: { stored: number; bytes_used: number; max_avail: number } }>;
}

describe('RBD pool figures', () => {
  const env = cephEnv();
  const pool2 = uniqueName('size2');
  const pool1 = uniqueName('size1');
  const dataImage = uniqueName('usage');
  let admin: RbdCluster;
  let driver: RbdDriver;
  const ceph = (...args: string[]) =>
    execFileSync('ceph', ['-c', env.conf, '--id', env.admin.user, '--keyring', env.admin.keyring, ...args], {
      encoding: 'utf8',
    });
  const df = () => JSON.parse(ceph('df', '--format', 'json')) as CephDf;
  const poolDf = (name: string) => df().pools.find((p) => p.name === name)?.stats;

  beforeAll(async () => {
    ceph('osd', 'pool', 'create', pool2, '8');
    ceph('osd', 'pool', 'set', pool2, 'size', '2');
    ceph('osd', 'pool', 'application', 'enable', pool2, 'rbd');
    // A size-1 pool of its own (the shared ones change as other tests write).
    ceph('osd', 'pool', 'create', pool1, '8');
    ceph('osd', 'pool', 'set', pool1, 'size', '1', '--yes-i-really-mean-it');
    ceph('osd', 'pool', 'application', 'enable', pool1, 'rbd');
    admin = await connectAdmin(env);
    // Some data in the size-1 pool, so stored/bytes_used are not all zero.
    await admin.pool(pool1).importStream(dataImage, (async function* () { yield randomBytes(8 * MiB); })(), {
      size: 8 * MiB,
    });
    // The mgr reports a new pool's usage (and its new size) to the mon within a few seconds.
    const settled = () => {
      const mine = poolDf(pool2);
      const single = poolDf(pool1);
      return !!mine && !!single && single.stored >= 8 * MiB && mine.max_avail > 0 && mine.max_avail < single.max_avail * 0.6;
    };
    const deadline = Date.now() + 30_000;
    while (!settled() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
    driver = clientDriver(env);
  });
  afterAll(async () => {
    await admin?.pool(pool1).image(dataImage).remove();
    await driver?.close();
    await admin?.close();
  });

  it('getPoolInfo is nova\'s: total_bytes, the pool\'s max_avail and bytes_used, as ceph df says', async () => {
    const mine = await driver.getPoolInfo(pool2);
    const single = await driver.getPoolInfo(pool1);
    const theirs = df();
    const pool = theirs.pools.find((p) => p.name === pool2)!.stats;
    const one = theirs.pools.find((p) => p.name === pool1)!.stats;
    // bigints, exact: this cluster's figures are far below 2^53, so the CLI's JSON.parse is exact too.
    expect(mine.total).toBe(BigInt(theirs.stats.total_bytes));
    expect(single.total).toBe(BigInt(theirs.stats.total_bytes));
    // The figures move as the OSD reports (other test files write meanwhile); compare within 3 %.
    expect(Math.abs(Number(mine.free) - pool.max_avail)).toBeLessThanOrEqual(pool.max_avail * 0.03);
    expect(Math.abs(Number(single.free) - one.max_avail)).toBeLessThanOrEqual(one.max_avail * 0.03);
    expect(Math.abs(Number(single.used) - one.bytes_used)).toBeLessThanOrEqual(Math.max(one.bytes_used / 100, MiB));
    expect(single.used).toBeGreaterThanOrEqual(8 * MiB);

    // Replication is accounted for: half the size-1 pool's free space, far below the raw figure.
    expect(Number(mine.free) / Number(single.free)).toBeGreaterThan(0.4);
    expect(Number(mine.free) / Number(single.free)).toBeLessThan(0.6);
    const raw = await (await driver.cluster()).stats();
    expect(Number(mine.free)).toBeLessThan(Number(raw.free) * 0.6);

    const usage = await (await driver.cluster()).pool(pool1).usage();
    expect(usage.stored).toBeGreaterThanOrEqual(8 * MiB);
    expect(usage.clusterTotal).toBe(BigInt(theirs.stats.total_bytes));
    expect(typeof usage.objects).toBe('bigint');
    expect(typeof usage.percentUsed).toBe('number');
  });

  it('a missing pool is RBD_NOT_FOUND', async () => {
    const err = await driver.getPoolInfo('no-such-pool').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RbdNotFoundError);
    expect(err).toMatchObject({ code: 'RBD_NOT_FOUND', pool: 'no-such-pool' });
  });
});
