#!/usr/bin/env node
// The main job until the provisioning demo lands: start the project's
// throwaway Ceph cluster, do what a compute agent does with RBD through the
// library (import a base, snapshot + protect it, clone instance disks from it
// concurrently, resize, export one back and compare), print what happened,
// and tear everything down.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync, writeSync, closeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { RbdDriver } from '../dist/nova.js';
import { parseClusterOutput } from './ceph-cluster-env.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const script = join(root, 'scripts', 'ceph-cluster.sh');
const MiB = 1 << 20;
const COUNT = Number(process.env.COUNT ?? 20);

const ms = (t) => `${(performance.now() - t).toFixed(1)} ms`;
const sha = (p) => createHash('sha256').update(readFileSync(p)).digest('hex').slice(0, 16);

const clusterDir = mkdtempSync(join(tmpdir(), 'imagebackend-demo-ceph-'));
const work = mkdtempSync(join(tmpdir(), 'imagebackend-demo-'));
let driver;
try {
  let t = performance.now();
  const env = parseClusterOutput(execFileSync('bash', [script, 'start', clusterDir], { encoding: 'utf8' }));
  console.log(`Ceph cluster (1 mon, 1 osd, cephx) up at ${env.CEPH_MON_HOST} in ${ms(t)}`);

  // A 256 MiB raw base with data in a few places, as Glance would hold it.
  const base = join(work, 'base.raw');
  const fd = openSync(base, 'w');
  ftruncateSync(fd, 256 * MiB);
  for (const at of [0, 100 * MiB, 255 * MiB]) writeSync(fd, randomBytes(MiB), 0, MiB, at);
  closeSync(fd);

  // The image service side (admin): import, snapshot, protect.
  const glance = new RbdDriver({ pool: env.CEPH_POOL_IMAGES, cephConf: env.CEPH_CONF, user: 'admin', keyring: env.CEPH_ADMIN_KEYRING });
  t = performance.now();
  const imported = await glance.importImage(base, 'base-image');
  await glance.createSnap('base-image', 'snap', { protect: true });
  console.log(`imported 256 MiB base (${Number(imported.bytesWritten) / MiB} MiB of data written) and protected a snapshot in ${ms(t)}`);
  await glance.close();

  // The compute side: restricted user, one shared connection.
  driver = new RbdDriver({ pool: env.CEPH_POOL_VMS, cephConf: env.CEPH_CONF, user: env.CEPH_CLIENT_USER, keyring: env.CEPH_CLIENT_KEYRING });
  const location = { url: `rbd://${await driver.getFsid()}/${env.CEPH_POOL_IMAGES}/base-image/snap` };
  console.log(`cloneable: ${await driver.isCloneable(location, { disk_format: 'raw' })} (${location.url})`);

  t = performance.now();
  const names = Array.from({ length: COUNT }, (_, i) => `instance-${String(i).padStart(3, '0')}_disk`);
  await Promise.all(names.map((n) => driver.clone(location, n)));
  console.log(`cloned ${COUNT} instance disks concurrently in ${ms(t)}`);

  t = performance.now();
  await Promise.all(names.map((n) => driver.resize(n, 1024 * MiB)));
  console.log(`resized them to 1 GiB in ${ms(t)}`);

  const [first] = names;
  const parent = await driver.parentInfo(first);
  console.log(`${first}: ${Number(await driver.size(first)) / MiB} MiB, parent ${parent.pool}/${parent.image}@${parent.snapshot}`);
  console.log(`monitors: ${(await driver.getMonAddrs()).map((m) => `${m.host}:${m.port}`).join(', ')}`);

  t = performance.now();
  const out = join(work, 'exported.raw');
  await driver.exportImage(out, first, { snapshot: undefined });
  const head = join(work, 'head.raw');
  execFileSync('head', ['-c', String(256 * MiB), out], { stdio: ['ignore', openSync(head, 'w'), 'inherit'] });
  console.log(`exported ${first} in ${ms(t)}; first 256 MiB ${sha(head) === sha(base) ? 'match' : 'DIFFER from'} the base`);

  const report = await driver.cleanupVolumes((n) => names.includes(n));
  console.log(`cleaned up ${report.removed.length} disks, ${report.failed.length} failed`);
  if (sha(head) !== sha(base) || report.failed.length) process.exitCode = 1;
} finally {
  await driver?.close();
  execFileSync('bash', [script, 'stop', clusterDir]);
  rmSync(work, { recursive: true, force: true });
}
