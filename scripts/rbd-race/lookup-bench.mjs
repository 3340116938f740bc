#!/usr/bin/env node
// How long answering "does this snapshot exist / how big is it" takes each
// way, on the librbd at hand: the rbd class-method reads the library uses
// (RbdImage.exists/size with a snapshot: get_id, get_snapcontext,
// snapshot_get; no open) against librbd's open at the snapshot
// (RbdImage.stat with a snapshot: rbd_open_read_only, rbd_stat, rbd_close).
// Interleaved, one connection, against a throwaway cluster; prints medians
// and 90th percentiles in ms and the librbd version. Uses the compiled dist/.
//
//   node scripts/rbd-race/lookup-bench.mjs [ITERATIONS]   (default 300; root)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { RbdCluster } = await import(join(here, '../../dist/index.js'));
const iterations = Number(process.argv[2] ?? 300);

const work = mkdtempSync(join(tmpdir(), 'rbd-lookup-'));
const clusterDir = join(work, 'cluster');
const script = join(here, '../ceph-cluster.sh');
const env = Object.fromEntries(
  execFileSync('bash', [script, 'start', clusterDir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .trim()
    .split('\n')
    .map((line) => {
      const at = line.indexOf('=');
      return [line.slice(0, at), line.slice(at + 1).replace(/^'(.*)'$/, '$1')];
    }),
);

const quantile = (values, q) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
};

let cluster;
try {
  cluster = await RbdCluster.connect({ cephConf: env.CEPH_CONF, user: env.CEPH_ADMIN_USER, keyring: env.CEPH_ADMIN_KEYRING });
  const image = cluster.pool(env.CEPH_POOL_IMAGES).image('lookup-parent');
  await image.create(64 << 20);
  // A few snapshots, as a Glance image accumulates none but an instance disk may.
  for (const name of ['a', 'b', 'snap']) await image.createSnapshot(name);
  await image.protectSnapshot('snap');

  const ways = {
    'exists(snap), class methods': () => image.exists('snap'),
    'size(snap), class methods': () => image.size('snap'),
    'stat(snap), open at the snapshot': () => image.stat('snap'),
  };
  const times = Object.fromEntries(Object.keys(ways).map((k) => [k, []]));
  for (let i = 0; i < iterations + 20; i++) {
    for (const [name, run] of Object.entries(ways)) {
      const start = process.hrtime.bigint();
      await run();
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (i >= 20) times[name].push(ms); // the first 20 warm caches and connections
    }
  }
  const librbd = execFileSync('dpkg-query', ['-W', '-f', '${Version}', 'librbd1'], { encoding: 'utf8' });
  console.log(`librbd ${librbd}, ${iterations} interleaved iterations, ms`);
  for (const [name, values] of Object.entries(times)) {
    console.log(`  ${name.padEnd(34)} median ${quantile(values, 0.5).toFixed(2)}  p90 ${quantile(values, 0.9).toFixed(2)}`);
  }
  await image.unprotectSnapshot('snap');
  for (const name of ['a', 'b', 'snap']) await image.removeSnapshot(name);
  await image.remove();
} finally {
  await cluster?.close();
  execFileSync('bash', [script, 'stop', clusterDir], { stdio: 'ignore' });
  rmSync(work, { recursive: true, force: true });
}
