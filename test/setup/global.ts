// Starts the project's throwaway Ceph cluster and, concurrently, a real Glance
// (scripts/glance-fixture.sh, its rbd store on that cluster) once per run and
// stops both after, even when tests fail. A missing tool fails the run with
// the package to install. IMAGEBACKEND_NO_GLANCE=1 leaves Glance out (for
// focused runs of tests that do not use it; its tests then fail, never skip).
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

import { parseClusterOutput, startCephCluster } from '../../scripts/ceph-cluster-env.mjs';
import type { CephEnv } from './ceph-env.js';
import type { GlanceEnv } from './glance-env.js';

const run = promisify(execFile);
const glanceScript = join(import.meta.dirname, '..', '..', 'scripts', 'glance-fixture.sh');

function failure(what: string, error: unknown): Error {
  const e = error as { stderr?: string; message: string };
  return new Error(`${what} failed to start: ${e.stderr ?? e.message}`);
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'imagebackend-ceph-'));
  const withGlance = process.env.IMAGEBACKEND_NO_GLANCE !== '1';
  const glanceDir = withGlance ? await mkdtemp(join(tmpdir(), 'imagebackend-glance-')) : undefined;
  const started = Date.now();
  // Glance imports itself while the cluster starts, then waits for its Ceph key.
  const glanceStart = glanceDir
    ? run('bash', [glanceScript, 'start', glanceDir, join(dir, 'ceph.conf')], { maxBuffer: 1 << 20 })
    : undefined;
  glanceStart?.catch(() => {}); // awaited below; keeps an early failure from being unhandled
  const stopGlance = async () => {
    if (!glanceDir) return;
    await run('bash', [glanceScript, 'stop', glanceDir]).catch((e: Error) => {
      process.stderr.write(`[setup] stopping Glance failed: ${e.message}\n`);
    });
  };
  let stopCluster: () => Promise<void>;
  let env: CephEnv;
  try {
    ({ cluster: env, stop: stopCluster } = await startCephCluster(dir));
  } catch (error) {
    await stopGlance(); // its start then ends on its own: its folder is gone
    throw new Error(`test Ceph cluster failed to start: ${(error as Error).message}`);
  }
  const stopCeph = async () => {
    await stopCluster().catch((e: Error) => {
      process.stderr.write(`[setup] stopping the Ceph cluster failed: ${e.message}\n`);
    });
  };
  process.stderr.write(`[setup] Ceph cluster up in ${Date.now() - started} ms at ${env.monHost} (${dir})\n`);
  project.provide('ceph', env);
  let glance: GlanceEnv | undefined;
  if (glanceStart && glanceDir) {
    try {
      await run('bash', [glanceScript, 'ceph-user', env.conf]);
      const g = parseClusterOutput((await glanceStart).stdout);
      glance = {
        dir: glanceDir,
        url: g.GLANCE_URL!,
        locationsUrl: g.GLANCE_LOCATIONS_URL!,
        fileStore: g.GLANCE_FILE_STORE!,
        ceph: { user: g.GLANCE_CEPH_USER!, pool: g.GLANCE_CEPH_POOL! },
        logDir: g.GLANCE_LOG_DIR!,
      };
    } catch (error) {
      await stopGlance();
      await stopCeph();
      throw failure('test Glance', error);
    }
    process.stderr.write(`[setup] Glance up in ${Date.now() - started} ms at ${glance.url} and ${glance.locationsUrl} (${glanceDir})\n`);
  }
  project.provide('glance', glance);
  return async () => {
    await stopGlance();
    await stopCeph();
  };
}
