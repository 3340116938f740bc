// A clone given up at its deadline must not create the disk later (issue 13:
// "an abandoned clone may create the image later"). The OSD of a throwaway
// cluster is paused and resumed in turns (SIGSTOP/SIGCONT), so each of the
// clone's requests is answered before librados' own op timeout but the whole
// clone outlasts the library's deadline: the call rejects with RBD_TIMEOUT
// while librbd goes on. Whatever librbd does after that, the disk's name
// never appears, and nothing of the clone is left once the cluster answers.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RbdCluster } from '../../src/rbd/RbdCluster.js';
import { RbdDriver } from '../../src/rbd/RbdDriver.js';
import { STAGING_INFIX } from '../../src/rbd/staging.js';
import { cephEnv } from '../helpers/ceph.js';

const run = promisify(execFile);
const OP_TIMEOUT = 2000;

describe('a clone abandoned at its deadline', () => {
  const { script } = cephEnv();
  let dir: string;
  let vars: Record<string, string>;
  let osd = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'imagebackend-abandoned-'));
    const { stdout } = await run('bash', [script, 'start', dir]);
    vars = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=', 2) as [string, string]),
    );
    const pidFile = (await readdir(join(dir, 'run'))).find((f) => /^osd\.\d+\.pid$/.test(f));
    osd = Number((await readFile(join(dir, 'run', pidFile ?? 'missing'), 'utf8')).trim());
    expect(osd).toBeGreaterThan(1);
  }, 120_000);
  afterAll(async () => {
    if (osd) process.kill(osd, 'SIGCONT');
    if (dir) await run('bash', [script, 'stop', dir]);
  });

  it('rejects with RBD_TIMEOUT; the disk name never appears and the late clone is removed', async () => {
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
      // A clone while the cluster answers: staged, renamed, nothing else left.
      await driver.clone(location, 'quick');
      expect((await observer.pool(pool).list()).sort()).toEqual(['parent', 'quick']);

      // Pause the OSD in turns: 1.2 s stopped, 0.2 s running, until told to stop.
      let pausing = true;
      const pauses = (async () => {
        while (pausing) {
          process.kill(osd, 'SIGSTOP');
          await sleep(1200);
          process.kill(osd, 'SIGCONT');
          await sleep(200);
        }
      })();
      const started = performance.now();
      const error = await driver.clone(location, 'late').catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      expect(error).toMatchObject({ code: 'RBD_TIMEOUT' });
      expect(elapsed).toBeLessThan(OP_TIMEOUT + 1000 + 2500);

      // Keep pausing a while (librbd goes on), then let the cluster answer; watch the pool meanwhile.
      const seen = new Set<string>();
      const watchUntil = performance.now() + 6000;
      while (performance.now() < watchUntil) {
        await sleep(1400);
        for (const name of await observer.pool(pool).list().catch(() => [])) seen.add(name);
      }
      pausing = false;
      await pauses;
      // Once librbd answers (success or failure), nothing of 'late' is left: poll up to 30 s.
      let left: string[] = [];
      for (let i = 0; i < 60; i++) {
        const names = await observer.pool(pool).list();
        names.forEach((n) => seen.add(n));
        left = names.filter((n) => n.startsWith('late'));
        if (left.length === 0 && i >= 4) break;
        await sleep(500);
      }
      console.log(`abandoned clone: names seen in the pool meanwhile: ${[...seen].sort().join(', ')}`);
      expect(seen.has('late')).toBe(false);
      expect(left).toEqual([]);
      expect([...seen].filter((n) => n.startsWith('late') && !n.startsWith(`late${STAGING_INFIX}`))).toEqual([]);
    } finally {
      await driver.close();
      await observer.close();
    }
  }, 120_000);
});
