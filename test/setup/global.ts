// Starts the project's throwaway Ceph cluster once per run and stops it after,
// even when tests fail. A missing tool fails the run with the package to install.
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

import { startCephCluster } from '../../scripts/ceph-cluster-env.mjs';
import type { CephEnv } from './ceph-env.js';

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  let stop: () => Promise<void>;
  let env: CephEnv;
  try {
    const { cluster, stop: stopCluster } = await startCephCluster();
    stop = stopCluster;
    env = cluster;
  } catch (error) {
    throw new Error(`test Ceph cluster failed to start: ${(error as Error).message}`);
  }
  const dir = env.dir;
  process.stderr.write(`[setup] Ceph cluster up in ${Date.now() - started} ms at ${env.monHost} (${dir})\n`);
  project.provide('ceph', env);
  return async () => {
    await stop().catch((e: Error) => {
      process.stderr.write(`[setup] stopping the Ceph cluster failed: ${e.message}\n`);
    });
  };
}
