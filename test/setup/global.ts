// Starts the project's throwaway Ceph cluster once per run and stops it after,
// even when tests fail. A missing tool fails the run with the package to install.
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type {} from 'vitest';
import type { TestProject } from 'vitest/node';

import type { CephEnv } from './ceph-env.js';

const run = promisify(execFile);
const script = join(import.meta.dirname, '..', '..', 'scripts', 'ceph-cluster.sh');

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'imagebackend-ceph-'));
  const started = Date.now();
  let stdout: string;
  try {
    ({ stdout } = await run('bash', [script, 'start', dir], { maxBuffer: 1 << 20 }));
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`test Ceph cluster failed to start: ${e.stderr ?? e.message}`);
  }
  const vars = Object.fromEntries(
    stdout
      .split('\n')
      .map((line) => /^([A-Z_]+)=(.*)$/.exec(line.trim()))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1], m[2]!.replace(/^'(.*)'$/, '$1')]),
  ) as Record<string, string>;
  const env: CephEnv = {
    dir,
    conf: vars.CEPH_CONF!,
    fsid: vars.CEPH_FSID!,
    monHost: vars.CEPH_MON_HOST!,
    admin: { user: vars.CEPH_ADMIN_USER ?? 'admin', keyring: vars.CEPH_ADMIN_KEYRING! },
    client: { user: vars.CEPH_CLIENT_USER ?? 'compute', keyring: vars.CEPH_CLIENT_KEYRING! },
    pools: { images: vars.CEPH_POOL_IMAGES ?? 'images', vms: vars.CEPH_POOL_VMS ?? 'vms' },
    script,
  };
  process.stderr.write(`[setup] Ceph cluster up in ${Date.now() - started} ms at ${env.monHost} (${dir})\n`);
  project.provide('ceph', env);
  return async () => {
    await run('bash', [script, 'stop', dir]).catch((e: Error) => {
      process.stderr.write(`[setup] stopping the Ceph cluster failed: ${e.message}\n`);
    });
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    ceph: CephEnv;
  }
}
