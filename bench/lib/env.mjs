// What the groups run against: the project's throwaway Ceph cluster, a loop
// device, a scratch folder, and a description of the machine for the results.
import { mkdtemp, open } from 'node:fs/promises';
import os from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startCephCluster } from '../../scripts/ceph-cluster-env.mjs';
import { run } from './harness.mjs';

export const ROOT = join(import.meta.dirname, '..', '..');

/** Starts a cluster in a new temporary folder; returns its KEY=VALUE env and a stop(). */
export async function startCeph() {
  const { vars, stop } = await startCephCluster();
  return { env: vars, stop };
}

/**
 * A loop device over a new sparse backing file of `bytes`. Needs root.
 * Returns { device, backing, detach() }.
 */
export async function attachLoop(dir, bytes) {
  const backing = join(dir, 'loop-backing.img');
  const fh = await open(backing, 'w');
  await fh.truncate(bytes);
  await fh.close();
  const { stdout } = await run('losetup', ['--find', '--show', backing]);
  const device = stdout.trim();
  return { device, backing, detach: () => run('losetup', ['--detach', device]) };
}

export function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export async function scratchDir() {
  return mkdtemp(join(tmpdir(), 'imagebackend-bench-'));
}

const firstLine = async (cmd, args) => {
  try {
    const { stdout, stderr } = await run(cmd, args);
    return (stdout || stderr).split('\n')[0].trim();
  } catch (error) {
    return `unavailable (${error.code ?? error.message.split('\n')[0]})`;
  }
};

/** Versions of everything measured and the machine it ran on. */
export async function machineInfo() {
  const cpus = os.cpus();
  let commit;
  try {
    commit = (await run('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'])).stdout.trim();
    const dirty = (await run('git', ['-C', ROOT, 'status', '--porcelain', '--', 'src', 'native'])).stdout.trim();
    if (dirty) commit += ' (src/native modified)';
  } catch {
    commit = 'unknown';
  }
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    uvThreadpoolSize: Number(process.env.UV_THREADPOOL_SIZE ?? 4),
    ceph: await firstLine('ceph', ['--version']),
    rbd: await firstLine('rbd', ['--version']),
    qemuImg: await firstLine('qemu-img', ['--version']),
    python: await firstLine('/usr/bin/python3', ['-c', 'import sys, rbd; print(sys.version.split()[0], "rbd", rbd.RBD().version())']),
    commit,
  };
}
