// DiskOpsLimiter: nova's max_concurrent_disk_ops as a FIFO semaphore.
import { setTimeout as sleep } from 'node:timers/promises';

import { describe, expect, it } from 'vitest';

import { DiskOpsLimiter } from '../../../src/images/DiskOpsLimiter.js';

describe('DiskOpsLimiter', () => {
  it('runs at most `limit` operations at once, the rest in arrival order', async () => {
    const limiter = new DiskOpsLimiter(2);
    let running = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        limiter.run(async () => {
          order.push(i);
          most = Math.max(most, ++running);
          await sleep(20);
          running--;
        }),
      ),
    );
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(limiter.running).toBe(0);
  });

  it('is unlimited by default (nova: 0), and frees the turn when an operation fails', async () => {
    const unlimited = new DiskOpsLimiter();
    expect(unlimited.limit).toBe(Infinity);
    const one = new DiskOpsLimiter(1);
    await expect(one.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await one.run(async () => 42)).toBe(42);
  });

  it('gives up a waiting turn on abort (ABORTED) without disturbing the queue', async () => {
    const limiter = new DiskOpsLimiter(1);
    let release!: () => void;
    const first = limiter.run(() => new Promise<void>((r) => (release = r)));
    const controller = new AbortController();
    const waiting = limiter.run(async () => 'never', { signal: controller.signal });
    const third = limiter.run(async () => 'third');
    expect(limiter.waiting).toBe(2);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
    expect(limiter.waiting).toBe(1);
    release();
    await first;
    expect(await third).toBe('third');
  });

  it('refuses a limit that is not a count', () => {
    expect(() => new DiskOpsLimiter(-1)).toThrow(/non-negative integer/);
    expect(() => new DiskOpsLimiter(1.5)).toThrow(/non-negative integer/);
  });
});
