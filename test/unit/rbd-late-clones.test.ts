// The bookkeeping of clones given up at their deadline, over a fake
// connection whose remove is recorded (the real cluster's side is
// test/integration/rbd-abandoned-clone.test.ts, which pauses an OSD).
import { describe, expect, it } from 'vitest';

import { removeWhenLanded, untilNoLateClone } from '../../src/rbd/lateClones.js';
import type { RbdPool } from '../../src/rbd/RbdPool.js';

function fakePool(boundMs: number | undefined, name = 'vms') {
  const removed: string[] = [];
  const cluster = {
    operationBoundMs: boundMs,
    native: {
      handle: {},
      addon: {
        rbdRemove: async (_handle: unknown, pool: string, image: string) => {
          removed.push(`${pool}/${image}`);
        },
      },
    },
  };
  return { pool: { name, cluster } as unknown as RbdPool, removed };
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
    const waiting = untilNoLateClone(pool, 'uuid_disk').then(() => (waited = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(waited).toBe(false);
    late.resolve(undefined);
    await waiting;
    expect(removed).toEqual(['vms/uuid_disk']);
    // Settled: the next clone of the name does not wait.
    await untilNoLateClone(pool, 'uuid_disk');
  });

  it('removes nothing when librbd reports the late clone failed (it made no image, or the name was taken)', async () => {
    const { pool, removed } = fakePool(5000);
    const late = deferred();
    removeWhenLanded(pool, 'taken_disk', late.promise);
    late.reject(Object.assign(new Error('File exists'), { errno: -17 }));
    await untilNoLateClone(pool, 'taken_disk');
    expect(removed).toEqual([]);
  });

  it('holds up only the same name on the same connection', async () => {
    const { pool } = fakePool(5000);
    const { pool: other } = fakePool(5000);
    removeWhenLanded(pool, 'a_disk', new Promise(() => undefined));
    await untilNoLateClone(pool, 'b_disk');
    await untilNoLateClone(other, 'a_disk');
  });

  it('rejects with RBD_TIMEOUT past the bound (plus the 1 s margin) while the late clone is still in librbd', async () => {
    const { pool } = fakePool(1);
    removeWhenLanded(pool, 'stuck_disk', new Promise(() => undefined));
    const started = performance.now();
    await expect(untilNoLateClone(pool, 'stuck_disk')).rejects.toMatchObject({
      code: 'RBD_TIMEOUT',
      pool: 'vms',
      image: 'stuck_disk',
      syscall: 'deadline',
    });
    expect(performance.now() - started).toBeGreaterThanOrEqual(1000);
  });
});
