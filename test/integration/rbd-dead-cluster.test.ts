// A cluster that stops answering must give a typed timeout, not a hang
// (issue 13: some rbd_clone3 calls never returned despite opTimeoutMs, errors
// came back as RBD_NOT_FOUND/RBD_ERROR, close() and process.exit() hung on
// a lock held forever, SIGTERM did nothing). Uses its own throwaway cluster
// so stopping its daemons affects no other test.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RbdTimeoutError } from '../../src/errors.js';
import { RbdCluster } from '../../src/rbd/RbdCluster.js';
import { startCephCluster } from '../../scripts/ceph-cluster-env.mjs';
import { cephEnv } from '../helpers/ceph.js';

const run = promisify(execFile);
const OP_TIMEOUT = 3000;
// What a settled call may take beyond the op timeout: the library's margin
// (1 s) plus scheduling slack on a loaded 2-core machine.
const SLACK = 2500;

interface Child {
  proc: ChildProcessWithoutNullStreams;
  stdout: string;
  line(text: string): Promise<void>;
  ended: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

describe('a dead cluster', () => {
  const { script } = cephEnv();
  let dir: string;
  let vars: Record<string, string>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imagebackend-dead-'));
    ({ vars } = await startCephCluster(dir));
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

  function child(mode: 'exit' | 'sigterm', parent: string): Child {
    const proc = spawn(process.execPath, [join(import.meta.dirname, 'children', 'dead-cluster.mjs')], {
      env: {
        ...process.env,
        CEPH_CONF: vars.CEPH_CONF,
        CEPH_CLIENT_USER: vars.CEPH_CLIENT_USER,
        CEPH_CLIENT_KEYRING: vars.CEPH_CLIENT_KEYRING,
        CEPH_POOL: vars.CEPH_POOL_VMS,
        PARENT_IMAGE: parent,
        OP_TIMEOUT_MS: String(OP_TIMEOUT),
        MODE: mode,
      },
    });
    const c: Child = {
      proc,
      stdout: '',
      line: (text) =>
        new Promise((resolve, reject) => {
          const check = () => c.stdout.includes(text) && resolve();
          proc.stdout.on('data', check);
          proc.once('close', () => reject(new Error(`child ended before '${text}': ${c.stdout}`)));
          check();
        }),
      ended: new Promise((resolve) => proc.once('close', (code, signal) => resolve({ code, signal, at: performance.now() }))),
    };
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (c.stdout += d));
    // Hard stop so a regression fails the test instead of hanging the run.
    const killer = setTimeout(() => proc.kill('SIGKILL'), 90_000);
    void c.ended.then(() => clearTimeout(killer));
    return c;
  }

  it('every call settles within its bound as RBD_TIMEOUT; close(), exit() and SIGTERM complete', async () => {
    const cluster = await RbdCluster.connect(options(OP_TIMEOUT));
    const vms = cluster.pool(vars.CEPH_POOL_VMS!);
    const parent = vms.image('parent');
    await parent.create(4 << 20);
    await parent.createSnapshot('snap');
    await parent.protectSnapshot('snap');
    expect(await parent.size()).toBe(BigInt(4 << 20));
    const exiting = child('exit', 'parent');
    const terminated = child('sigterm', 'parent');
    await Promise.all([exiting.line('ready'), terminated.line('ready')]);

    await run('bash', [script, 'stop-daemons', dir]);
    for (const c of [exiting, terminated]) c.proc.stdin.write('go\n');

    // Clones (some never return in librbd 16.2), sizes, exists, snapshots, lists, monitor commands.
    const calls: Array<[string, () => Promise<unknown>]> = [];
    for (let i = 0; i < 9; i++) calls.push([`clone ${i}`, () => parent.clone('snap', vms, `child-${i}`)]);
    for (let i = 0; i < 9; i++) calls.push([`size ${i}`, () => parent.size()]);
    calls.push(['size snap', () => parent.size('snap')]);
    calls.push(['exists', () => parent.exists()]);
    calls.push(['exists missing', () => vms.image('missing').exists()]);
    calls.push(['snapshots', () => parent.snapshots()]);
    calls.push(['list', () => vms.list()]);
    calls.push(['stats', () => cluster.stats()]);
    calls.push(['monitors', () => cluster.monitorAddresses()]);
    const outcomes = await Promise.all(
      calls.map(async ([label, call]) => {
        const started = performance.now();
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        return { label, error, elapsed: performance.now() - started };
      }),
    );
    for (const { label, error, elapsed } of outcomes) {
      expect({ label, timeout: error instanceof RbdTimeoutError }).toEqual({ label, timeout: true });
      expect(error).toMatchObject({ code: 'RBD_TIMEOUT', errnoName: 'ETIMEDOUT' });
      expect({ label, withinBound: elapsed < OP_TIMEOUT + SLACK }).toEqual({ label, withinBound: true });
    }

    // close() completes against the dead cluster even with calls librbd never returned.
    const closing = performance.now();
    await cluster.close();
    expect(performance.now() - closing).toBeLessThan(OP_TIMEOUT + 2000 + SLACK);

    // A process that exits with such calls in flight ends, and cleanly.
    await exiting.line('started');
    const exitAsked = performance.now() + 1000;
    const exited = await exiting.ended;
    expect({ code: exited.code, signal: exited.signal }).toEqual({ code: 0, signal: null });
    expect(exited.at - exitAsked).toBeLessThan(OP_TIMEOUT + 2000 + SLACK);

    // SIGTERM ends a process with such calls in flight.
    await terminated.line('started');
    await new Promise((r) => setTimeout(r, 1000));
    const signalled = performance.now();
    terminated.proc.kill('SIGTERM');
    const ended = await terminated.ended;
    expect(ended.signal).toBe('SIGTERM');
    expect(ended.at - signalled).toBeLessThan(SLACK);
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
