// The addon's contract at the boundary: handle types, close semantics, error shape.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RbdClosedError, RbdNotFoundError } from '../../src/errors.js';
import { native } from '../../src/native.js';
import { RbdCluster } from '../../src/rbd/RbdCluster.js';
import { cephEnv, connectClient } from '../helpers/ceph.js';

describe('native addon contract', () => {
  const env = cephEnv();
  let cluster: RbdCluster;

  beforeAll(async () => {
    cluster = await connectClient(env);
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('refuses a wrong handle type with one wording', () => {
    const addon = native();
    for (const bad of [undefined, null, 42, 'x', {}, new addon.AbortHandle()]) {
      expect(() => addon.rbdStat(bad as never, 'vms', 'x')).toThrow(
        /^Expected an RBD cluster handle for cluster but received/,
      );
    }
    const { handle } = cluster.native;
    expect(() => addon.rbdStat(handle, '' as never, 'x')).toThrow(
      "Expected a non-empty string for pool but received ''",
    );
    expect(() => addon.rbdCreate(handle, 'vms', 'x', -1)).toThrow(
      'Expected a non-negative integer for size but received -1',
    );
    try {
      addon.rbdStat(handle, 'vms', 42 as never);
    } catch (e) {
      expect(e).toBeInstanceOf(TypeError);
      expect((e as { code: string }).code).toBe('ERR_INVALID_ARG_TYPE');
    }
  });

  it('rejects with system-style errors and keeps the caller on the stack', async () => {
    async function callerFrameMarker() {
      return cluster.pool(env.pools.vms).image('surely-missing').stat();
    }
    const err = (await callerFrameMarker().catch((e: unknown) => e)) as RbdNotFoundError;
    expect(err).toBeInstanceOf(RbdNotFoundError);
    expect(err).toMatchObject({ code: 'RBD_NOT_FOUND', errno: -2, errnoName: 'ENOENT', syscall: 'rbd_open_read_only' });
    expect(err.message).toMatch(/ENOENT: No such file or directory, rbd_open_read_only 'vms\/surely-missing'/);
    expect(err.stack).toContain('callerFrameMarker');
    const cause = err.cause as { code: string; errno: number; syscall: string; pool: string; image: string };
    expect(cause).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'rbd_open_read_only', pool: 'vms' });
  });

  it('close is idempotent, waits for operations in flight, and later use is a typed error', async () => {
    const own = await connectClient(env);
    const inflight = Array.from({ length: 20 }, () => own.pool(env.pools.vms).list());
    const first = own.close();
    const second = own.close();
    expect(second).toBe(first);
    // Everything queued before close still completes.
    const lists = await Promise.all(inflight);
    for (const l of lists) expect(Array.isArray(l)).toBe(true);
    await first;
    expect(own.closed).toBe(true);
    await expect(own.pool(env.pools.vms).list()).rejects.toBeInstanceOf(RbdClosedError);
    await expect(own.pool(env.pools.vms).list()).rejects.toMatchObject({ code: 'RBD_CLOSED' });
    // Closing the native handle again directly also settles.
    await expect(native().rbdClose(own.native.handle)).resolves.toBeUndefined();
  });

  it('refuses bad connect options with a typed error', async () => {
    await expect(RbdCluster.connect({ cephConf: '/nonexistent/ceph.conf' })).rejects.toMatchObject({
      errnoName: 'ENOENT',
      syscall: 'rados_conf_read_file',
    });
  });
});
