// 500 concurrent clones, 6 rounds, over one connection: every clone must
// succeed, and the process's threads and file descriptors must stay the same
// from round to round (no thread or fd grows with the work done).
//   IMAGEBACKEND_DIST=dist CEPH_CONF=… CEPH_CLIENT_USER=… CEPH_CLIENT_KEYRING=… CEPH_POOL=vms \
//     node clone-rounds.mjs [clones] [rounds]
// Prints one JSON line per round: {round, ok, failed, ms, threads, fds}.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const { RbdCluster } = await import(pathToFileURL(join(process.env.IMAGEBACKEND_DIST, 'index.js')).href);
const clones = Number(process.argv[2] ?? 500);
const rounds = Number(process.argv[3] ?? 6);

const cluster = await RbdCluster.connect({
  cephConf: process.env.CEPH_CONF,
  user: process.env.CEPH_CLIENT_USER,
  keyring: process.env.CEPH_CLIENT_KEYRING,
});
const pool = cluster.pool(process.env.CEPH_POOL);
const parent = pool.image(`stress-parent-${process.pid}`);
await parent.create(4 << 20);
await parent.createSnapshot('snap');
await parent.protectSnapshot('snap');

const threads = async () => Number(/^Threads:\s+(\d+)$/m.exec(await readFile('/proc/self/status', 'utf8'))[1]);
const fds = async () => (await readdir('/proc/self/fd')).length;

for (let round = 1; round <= rounds; round++) {
  const names = Array.from({ length: clones }, (_, i) => `stress-${process.pid}-${round}-${i}`);
  const started = performance.now();
  const results = await Promise.allSettled(names.map((name) => parent.clone('snap', pool, name)));
  const ms = Math.round(performance.now() - started);
  const failed = results.filter((r) => r.status === 'rejected');
  const line = { round, ok: results.length - failed.length, failed: failed.length, ms, threads: await threads(), fds: await fds() };
  if (failed.length) line.firstError = String(failed[0].reason?.code ?? failed[0].reason);
  console.log(JSON.stringify(line));
  // Removed 50 at a time, so the next round starts from the same pool.
  for (let i = 0; i < names.length; i += 50) await Promise.all(names.slice(i, i + 50).map((n) => pool.image(n).remove().catch(() => {})));
}
await parent.unprotectSnapshot('snap');
await parent.removeSnapshot('snap');
await parent.remove();
await cluster.close();
