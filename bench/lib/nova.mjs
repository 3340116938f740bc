// nova's side of the provisioning rows: runs bench/nova/provision.py (Debian's
// python3-nova, the real nova.virt.libvirt.imagebackend) in a fresh python3
// process per sample and returns the time nova reports for its disks (its
// start-up and import, ~2-7 s, are not counted; they are kept in details).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

import { run } from './harness.mjs';
import { PYTHON } from './python.mjs';

const SCRIPT = join(import.meta.dirname, '..', 'nova', 'provision.py');

/** nova-compute's default `max_concurrent_builds`. */
export const NOVA_MAX_CONCURRENT_BUILDS = 10;

/** Why nova cannot run here ('' when it can). */
export function novaMissing() {
  const r = spawnSync(PYTHON, ['-c', 'import nova.virt.libvirt.imagebackend'], { encoding: 'utf8' });
  return r.status === 0 ? '' : `python3-nova is not importable from ${PYTHON} (apt-get install python3-nova)`;
}

/**
 * Provisions `count` root disks with nova's own imagebackend.
 * @param {object} config  see bench/nova/provision.py (instances_path, images_type, image_id, size, count, prefix, workers, source, image_meta, rbd)
 * @returns {Promise<{ ms: number, disks: number, startupMs: number }>}
 */
export async function novaProvision(config) {
  const t0 = performance.now();
  const { stdout } = await run(PYTHON, [SCRIPT, JSON.stringify(config)], { env: { ...process.env, OS_NOVA_DISABLE_EVENTLET_PATCHING: '' } });
  const result = JSON.parse(stdout.trim().split('\n').pop());
  if (result.disks !== config.count) throw new Error(`nova made ${result.disks} disks, not ${config.count}`);
  return { ...result, startupMs: Math.round(performance.now() - t0 - result.ms) };
}

/**
 * measure() cases for nova: one build at a time and `max_concurrent_builds` at once.
 * @param {(key: string, i: number, workers: number) => object} configFor  the provision.py config of sample i
 * @param {(key: string) => (i: number) => Promise<void>} teardown
 * @param {number[]} startups  collects nova's start-up times (ms)
 */
export function novaCases(configFor, teardown, startups) {
  return [
    ['nova', 1],
    ['nova-builds', NOVA_MAX_CONCURRENT_BUILDS],
  ].map(([key, workers]) => ({
    key,
    selfTimed: true,
    fn: async (i) => {
      const { ms, startupMs } = await novaProvision(configFor(key, i, workers));
      startups.push(startupMs);
      return ms;
    },
    teardown: teardown(key),
  }));
}
