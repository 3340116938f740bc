// The one reader of scripts/ceph-cluster.sh's output, for the tests' global
// setup, the bench and the scripts: plain JavaScript so bench and scripts
// import it without a build; ceph-cluster-env.d.mts types it for the tests.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** scripts/ceph-cluster.sh itself. */
export const CEPH_CLUSTER_SCRIPT = join(import.meta.dirname, 'ceph-cluster.sh');

const run = promisify(execFile);

/**
 * The KEY=VALUE lines `ceph-cluster.sh start` prints (its `kv`): a value is
 * bare, or single-quoted with `'\''` standing for a quote, as a shell reads
 * it. Other lines are ignored; a malformed quoted value throws.
 */
export function parseClusterOutput(text) {
  const vars = {};
  for (const raw of String(text).split('\n')) {
    const line = raw.trim();
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    const [, key, value] = match;
    vars[key] = unquote(value, key);
  }
  return vars;
}

function unquote(value, key) {
  if (!value.startsWith("'")) return value;
  // A sequence of '...' pieces joined by \' (an escaped quote outside them).
  const pieces = /^'((?:[^']|'\\'')*)'$/.exec(value);
  if (!pieces) throw new Error(`ceph-cluster.sh printed a badly quoted value for ${key}: ${value}`);
  return pieces[1].replaceAll("'\\''", "'");
}

/** The cluster's variables as named fields; throws naming any that are missing. */
export function describeCluster(vars, dir) {
  const need = (key) => {
    const value = vars[key];
    if (value === undefined || value === '') throw new Error(`ceph-cluster.sh did not print ${key}`);
    return value;
  };
  return {
    dir: vars.CEPH_DIR ?? dir,
    conf: need('CEPH_CONF'),
    fsid: need('CEPH_FSID'),
    monHost: need('CEPH_MON_HOST'),
    monPort: Number(need('CEPH_MON_PORT')),
    admin: { user: vars.CEPH_ADMIN_USER ?? 'admin', keyring: need('CEPH_ADMIN_KEYRING') },
    client: { user: vars.CEPH_CLIENT_USER ?? 'compute', keyring: need('CEPH_CLIENT_KEYRING') },
    pools: { images: vars.CEPH_POOL_IMAGES ?? 'images', vms: vars.CEPH_POOL_VMS ?? 'vms' },
    logDir: vars.CEPH_LOG_DIR,
    script: CEPH_CLUSTER_SCRIPT,
  };
}

/**
 * Starts a throwaway cluster in `dir` (a new temporary folder by default) and
 * resolves to its variables, their named form and a `stop()`. A failed start
 * removes a folder this call made and rejects with the script's stderr.
 */
export async function startCephCluster(dir) {
  const folder = dir ?? (await mkdtemp(join(tmpdir(), 'imagebackend-ceph-')));
  let stdout;
  try {
    ({ stdout } = await run('bash', [CEPH_CLUSTER_SCRIPT, 'start', folder], { maxBuffer: 1 << 20 }));
  } catch (error) {
    if (dir === undefined) await rm(folder, { recursive: true, force: true });
    throw new Error(`the throwaway Ceph cluster failed to start (scripts/ceph-cluster.sh): ${error.stderr || error.message}`, { cause: error });
  }
  const vars = parseClusterOutput(stdout);
  return {
    vars,
    cluster: describeCluster(vars, folder),
    stop: async () => {
      await run('bash', [CEPH_CLUSTER_SCRIPT, 'stop', folder]);
    },
  };
}
