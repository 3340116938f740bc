// A cluster that stops answering must give a typed timeout, not a hang. Uses
// its own throwaway cluster so stopping its daemons affects no other test.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RbdTimeoutError } from '../../src/errors.js';
import { RbdCluster } from '../../src/rbd/RbdCluster.js';
import { cephEnv } from '../helpers/ceph.js';

const run = promisify(execFile);

describe('a dead cluster', () => {
  const { script } = cephEnv();
  let dir: string;
  let vars: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imagebackend-dead-'));
    const { stdout } = await run('bash', [script, 'start', dir]);
    vars = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=', 2) as [string, string]),
    );
  });
  afterAll(async () => {
    if (dir) await run('bash', [script, 'stop', dir]);
  });

  const options = (timeout: number) => ({
    cephConf: vars.CEPH_CONF,
    user: vars.CEPH_CLIENT_USER,
    keyring: vars.CEPH_CLIENT_KEYRING,
    connectTimeoutMs: timeout,
    opTimeoutMs: timeout,
  });

  it('answers operations on an open connection with RBD_TIMEOUT within the op timeout', async () => {
    const cluster = await RbdCluster.connect(options(3000));
    const image = cluster.pool(vars.CEPH_POOL_VMS!).image('victim');
    await image.create(1 << 20);
    expect(await image.size()).toBe(1 << 20);

    await run('bash', [script, 'stop-daemons', dir]);
    const started = performance.now();
    const err = await image.size().catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(RbdTimeoutError);
    expect(err).toMatchObject({ code: 'RBD_TIMEOUT', errnoName: 'ETIMEDOUT' });
    // Bounded by the configured timeout (plus librados' tick granularity), not forever.
    expect(elapsed).toBeLessThan(3000 + 7000);

    // close() still completes against the dead cluster.
    await cluster.close();
  });

  it('refuses a new connection with RBD_TIMEOUT within the connect timeout', async () => {
    const started = performance.now();
    const err = await RbdCluster.connect(options(2000)).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(RbdTimeoutError);
    expect(err).toMatchObject({ code: 'RBD_TIMEOUT', syscall: 'rados_connect' });
    expect(elapsed).toBeLessThan(2000 + 7000);
  });
});
