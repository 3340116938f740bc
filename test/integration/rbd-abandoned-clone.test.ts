// A clone given up at its deadline must not become a disk later (issue 13:
// "an abandoned clone may create the image later"). The driver's op timeout
// is 1 ms: librados gives each request 1 s (it counts in whole seconds), the
// library gives the whole call 1 ms + its 1 s margin. The OSD of a throwaway
// cluster is paused and resumed in turns (0.8 s SIGSTOP, then SIGCONT), so no
// single request reaches librados' timeout but each clone outlasts the
// library's deadline: the calls reject with RBD_TIMEOUT while librbd goes on
// and completes them. Each image such a clone makes is removed once librbd
// reports it, and a retry of the name waits for that and makes a clone of
// its own: nothing of the abandoned clones is left.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RbdCluster } from '../../src/rbd/RbdCluster.js';
import { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { startCephCluster } from '../../scripts/ceph-cluster-env.mjs';
import { cephEnv } from '../helpers/ceph.js';

const run = promisify(execFile);
const OP_TIMEOUT = 1;

describe('a clone abandoned at its deadline', () => {
  const { script } = cephEnv();
  let dir: string;
  let vars: Record<string, string>;
  let osd = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imagebackend-abandoned-'));
    ({ vars } = await startCephCluster(dir));
    const pidFile = (await readdir(join(dir, 'run'))).find((f) => /^osd\.\d+\.pid$/.test(f));
    osd = Number((await readFile(join(dir, 'run', pidFile ?? 'missing'), 'utf8')).trim());
    expect(osd).toBeGreaterThan(1);
  }, 120_000);
  afterAll(async () => {
    if (osd) process.kill(osd, 'SIGCONT');
    if (dir) await run('bash', [script, 'stop', dir]);
  });

  it('rejects with RBD_TIMEOUT; the late clones are removed and a retry of each name makes its own clone', async () => {
    const options = { cephConf: vars.CEPH_CONF, user: vars.CEPH_CLIENT_USER, keyring: vars.CEPH_CLIENT_KEYRING };
    const pool = vars.CEPH_POOL_VMS as string;
    const observer = await RbdCluster.connect(options);
    const driver = new RbdDriver({ ...options, pool, opTimeoutMs: OP_TIMEOUT });
    try {
      const parent = observer.pool(pool).image('parent');
      await parent.create(4 << 20);
      await parent.createSnapshot('snap');
      await parent.protectSnapshot('snap');
      const location = { url: `rbd://${vars.CEPH_FSID}/${pool}/parent/snap` };
      // A clone while the cluster answers: made under its name, nothing else left.
      await driver.clone(location, 'quick');
      expect((await observer.pool(pool).list()).sort()).toEqual(['parent', 'quick']);

      // The OSD answers in bursts: every request gets through within librados' 1 s, no clone within 1 s.
      let pausing = true;
      const pauses = (async () => {
        while (pausing) {
          process.kill(osd, 'SIGSTOP');
          await sleep(800);
          process.kill(osd, 'SIGCONT');
          await sleep(60);
        }
      })();
      const names = Array.from({ length: 6 }, (_, i) => `late-${i}`);
      const started = performance.now();
      const errors = await Promise.all(names.map((n) => driver.clone(location, n).then(() => undefined, (e: unknown) => e)));
      const elapsed = performance.now() - started;
      const abandoned = errors.filter((e) => (e as { syscall?: string } | undefined)?.syscall === 'deadline').length;
      for (const error of errors) expect(error).toMatchObject({ code: 'RBD_TIMEOUT' });
      expect(elapsed).toBeLessThan(OP_TIMEOUT + 1000 + 2500);
      // The path under test was taken: at least one clone was given up at the deadline.
      expect(abandoned).toBeGreaterThan(0);
      pausing = false;
      await pauses;

      // The cluster answers again. A retry of each name waits for its abandoned clone (removed once librbd
      // finishes it) and then makes its own: a complete clone of the snapshot, never the abandoned one.
      const retried = await Promise.all(names.map((n) => driver.clone(location, n).then(() => 'ok', (e: unknown) => e)));
      expect(retried).toEqual(names.map(() => 'ok'));
      for (const n of names) {
        const info = await observer.pool(pool).image(n).parentInfo();
        expect(info).toMatchObject({ pool, image: 'parent', snapshot: 'snap' });
      }
      // Nothing else: no leftover of the abandoned clones under any name.
      expect((await observer.pool(pool).list()).sort()).toEqual(['late-0', 'late-1', 'late-2', 'late-3', 'late-4', 'late-5', 'parent', 'quick']);
      console.log(`abandoned clones: ${abandoned} of ${names.length} given up at the deadline`);
    } finally {
      await driver.close();
      await observer.close();
    }
  }, 120_000);
});
