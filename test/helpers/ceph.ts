import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inject } from 'vitest';

import { RbdCluster } from '../../src/rbd/RbdCluster.js';
import { RbdDriver, type RbdDriverOptions } from '../../src/rbd/RbdDriver.js';
import type { CephEnv } from '../setup/ceph-env.js';

export function cephEnv(): CephEnv {
  return inject('ceph');
}

/** A connection as the cluster's admin: for setting up what the restricted user may not. */
export function connectAdmin(env = cephEnv()): Promise<RbdCluster> {
  return RbdCluster.connect({ cephConf: env.conf, user: env.admin.user, keyring: env.admin.keyring });
}

/** A connection as the restricted compute user (rbd on vms, read-only on images). */
export function connectClient(env = cephEnv(), extra: Partial<RbdDriverOptions> = {}): Promise<RbdCluster> {
  return RbdCluster.connect({ cephConf: env.conf, user: env.client.user, keyring: env.client.keyring, ...extra });
}

/** A driver as nova would configure it: the compute user, pool vms. */
export function clientDriver(env = cephEnv(), extra: Partial<RbdDriverOptions> = {}): RbdDriver {
  return new RbdDriver({
    pool: env.pools.vms,
    cephConf: env.conf,
    user: env.client.user,
    keyring: env.client.keyring,
    ...extra,
  });
}

/** Image names unique per run so tests never see each other's leftovers. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** The bytes of RBD volume `name` in `vms`, read with qemu-img as the compute user (through a file in `dir`, removed after). */
export async function volumeBytes(name: string, dir: string, env = cephEnv()): Promise<Buffer> {
  const out = join(dir, `${name}.read`);
  await promisify(execFile)('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'raw', `rbd:${env.pools.vms}/${name}:id=${env.client.user}:conf=${env.conf}`, out]);
  try {
    return await readFile(out);
  } finally {
    await rm(out, { force: true });
  }
}
