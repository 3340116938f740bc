// The LVM thread completes its work through the thread-safe-function path
// (issue 10), not by parking a libuv pool thread per command: with a
// one-thread libuv pool, an fs call made after eight queued lvm2 commands
// finishes before them. Runs in a child process (the pool size is fixed per
// process) with a timeout.
import { execFile } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { requireLvmTools } from '../helpers/lvm.js';

describe('liblvm2cmd work and the libuv pool', () => {
  it('lvm2 commands in flight do not hold the libuv pool: an fs call overtakes them', async () => {
    requireLvmTools('the LVM thread test');
    const script = join(import.meta.dirname, 'children', 'lvm-thread-pool.mjs');
    const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) => {
      execFile(process.execPath, [script], { timeout: 60_000, env: { ...process.env, UV_THREADPOOL_SIZE: '1' } }, (error, out, err) =>
        error ? reject(new Error(`${error.message}\n${err}`)) : resolve({ stdout: out }),
      );
    });
    const order = JSON.parse(stdout) as string[];
    expect(order).toHaveLength(9);
    // Every command ran (lvm2_run returns 1 on success), in the order queued.
    expect(order.filter((o) => o !== 'fs')).toEqual(Array.from({ length: 8 }, (_, i) => `lvm${i}:1`));
    // The fs call finished before most of the commands: before the fix it came last.
    expect(order.indexOf('fs')).toBeLessThan(4);
  });
});
