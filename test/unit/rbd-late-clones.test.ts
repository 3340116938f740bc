// The bookkeeping of clones given up at their deadline, over a fake
// connection whose remove is recorded (the real cluster's side is
// test/integration/rbd-abandoned-clone.test.ts, which pauses an OSD).
import { describe, expect, it } from 'vitest';

import { lateClone, removeWhenLanded } from '../../src/rbd/lateClones.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import { RbdPool } from '../../src/rbd/RbdPool.js';

function fakePool(boundMs: number | undefined, name = 'vms') {
  const removed: string[] = [];
  const cloned: string[] = [];
  const cluster = {
    operationBoundMs: boundMs,
    snapshotOpenGate: undefined,
    native: {
      handle: {},
      addon: {
        rbdRemove: async (_handle: unknown, pool: string, image: string) => {
          removed.push(`${pool}/${image}`);
        },
        rbdClone: async (_handle: unknown, _parentPool: string, _parent: string, _snap: string, pool: string, image: string) => {
          cloned.push(`${pool}/${image}`);
        },
      },
    },
  };
  return { pool: new RbdPool(cluster as unknown as RbdCluster, name), removed, cloned };
}

function deferred() {
  let resolve!: (value: unknown) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<unknown>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('clones given up at their deadline', () => {
  it('removes the image a late clone makes, and a clone of that name waits for the removal', async () => {
    const { pool, removed } = fakePool(5000);
    const late = deferred();
    removeWhenLanded(pool, 'uuid_disk', late.promise);
    let waited = false;
    const waiting = Promise.resolve(lateClone(pool, 'uuid_disk')).then(() => (waited = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(waited).toBe(false);
    late.resolve(undefined);
    await waiting;
    expect(removed).toEqual(['vms/uuid_disk']);
    // Settled: the next clone of the name does not wait.
    expect(lateClone(pool, 'uuid_disk')).toBeUndefined();
  });

  it('removes nothing when librbd reports the late clone failed (it made no image, or the name was taken)', async () => {
    const { pool, removed } = fakePool(5000);
    const late = deferred();
    removeWhenLanded(pool, 'taken_disk', late.promise);
    late.reject(Object.assign(new Error('File exists'), { errno: -17 }));
    await lateClone(pool, 'taken_disk');
    expect(removed).toEqual([]);
  });

  it('holds up only the same name on the same connection', async () => {
    const { pool } = fakePool(5000);
    const { pool: other } = fakePool(5000);
    removeWhenLanded(pool, 'a_disk', new Promise(() => undefined));
    expect(lateClone(pool, 'b_disk')).toBeUndefined();
    expect(lateClone(other, 'a_disk')).toBeUndefined();
    expect(lateClone(pool, 'a_disk')).toBeDefined();
  });

  it('a clone into a name whose late clone is still in librbd waits within its own bound: RBD_TIMEOUT, librbd never asked', async () => {
    const { pool, cloned } = fakePool(1);
    removeWhenLanded(pool, 'stuck_disk', new Promise(() => undefined));
    const parent = pool.image('base');
    const started = performance.now();
    await expect(parent.clone('snap', pool, 'stuck_disk')).rejects.toMatchObject({
      code: 'RBD_TIMEOUT',
      operation: 'clone',
      syscall: 'deadline',
    });
    const elapsed = performance.now() - started;
    // One bound (1 ms + the 1 s margin) for the wait and the clone together, not one each.
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeLessThan(1900);
    expect(cloned).toEqual([]);
    // Another name is cloned at once.
    await parent.clone('snap', pool, 'free_disk');
    expect(cloned).toEqual(['vms/free_disk']);
  });
});
