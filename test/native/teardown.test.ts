// Crash and teardown behaviour, each in its own child process: exit code 0 and
// no signal, whatever state the connection was in.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RbdCluster } from '../../src/rbd/RbdCluster.js';
import { cephEnv, connectAdmin } from '../helpers/ceph.js';
import { denseFile, tempDir } from '../helpers/files.js';

const children = join(import.meta.dirname, 'children');

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

describe('teardown in child processes', () => {
  const env = cephEnv();
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let file: string;
  let admin: RbdCluster;

  beforeAll(async () => {
    tmp = await tempDir();
    file = join(tmp.dir, 'import.raw');
    await denseFile(file, 64 << 20);
    admin = await connectAdmin(env);
  });
  afterAll(async () => {
    await admin?.close();
    await tmp?.cleanup();
  });

  function run(script: string, args: string[] = [], extraEnv: Record<string, string> = {}): Promise<ChildResult> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [...args, join(children, script)],
        {
          timeout: 150_000,
          env: {
            ...process.env,
            CEPH_CONF: env.conf,
            CEPH_CLIENT_USER: env.client.user,
            CEPH_CLIENT_KEYRING: env.client.keyring,
            CEPH_POOL: env.pools.vms,
            IMPORT_FILE: file,
            ...extraEnv,
          },
        },
        (error, stdout, stderr) => {
          const e = error as (Error & { code?: number; signal?: NodeJS.Signals }) | null;
          resolve({ code: e ? (e.code ?? null) : 0, signal: e?.signal ?? null, stdout, stderr });
        },
      );
    });
  }

  const expectClean = (r: ChildResult) => {
    expect({ code: r.code, signal: r.signal, stderr: r.code === 0 ? '' : r.stderr }).toEqual({
      code: 0,
      signal: null,
      stderr: '',
    });
  };

  it('a process that ends with an open cluster exits cleanly', async () => {
    const r = await run('exit-open.mjs');
    expectClean(r);
    expect(r.stdout).toContain('exiting with the cluster open');
  });

  it('process.exit() during an import stops it, removes the partial image and exits cleanly', async () => {
    for (const at of ['start', 'progress']) {
      expectClean(await run('exit-midflight.mjs', [], { EXIT_AT: at }));
    }
    const left = (await admin.pool(env.pools.vms).list()).filter((n) => /^exit-\d+$/.test(n));
    expect(left).toEqual([]);
  });

  it('close() with operations in flight lets them finish, then closes', async () => {
    const r = await run('close-inflight.mjs');
    expectClean(r);
    expect(r.stdout).toContain('closed after 21 operations');
  });

  it('dropping the last reference mid-operation under --expose-gc is safe', async () => {
    const r = await run('gc-midflight.mjs', ['--expose-gc']);
    expectClean(r);
    expect(r.stdout).toContain('lists 10');
  });

  // Issue 13: a worker's exit hook shut down every connection of the process
  // (the main thread's import failed ABORTED), and each worker terminated
  // mid-import leaked 37-46 MB (its chunk buffers with the abandoned work).
  it('workers exiting mid-import touch only their own connections, and free their memory', async () => {
    const r = await run('worker-exits.mjs', [], { WORKERS: '24' });
    expectClean(r);
    const result = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as {
      done: number;
      failures: string[];
      rssWarm: number;
      rssEnd: number;
      workers: number;
      left: string[];
    };
    expect(result.failures).toEqual([]);
    expect(result.done).toBeGreaterThan(0);
    // 20 workers after the warm-up: a leak of ~40 MB each would be ~800 MB.
    expect(result.rssEnd - result.rssWarm).toBeLessThan(200 * 2 ** 20);
    expect(result.left).toEqual([]);
  });

  it('terminating a worker thread with an open cluster is safe', async () => {
    const r = await run('worker-thread.mjs');
    expectClean(r);
    expect(r.stdout).toContain('workers done');
  });
});
