// The workload scripts/leak-check.sh runs under valgrind: a loop over the
// addon's calls through the public API, success and error paths alike, so a
// buffer, handle, reference or worker that one call forgets shows up as
// "definitely lost" (once per iteration) at exit.
//
//   node scripts/leak/loop.mjs ITERATIONS WORKDIR
//
// The RBD half runs when CEPH_CONF, CEPH_CLIENT_USER, CEPH_CLIENT_KEYRING and
// CEPH_POOL_VMS name a running cluster (scripts/ceph-cluster.sh prints them).
// The process ends on its own (no process.exit) after closing the cluster, as
// an agent would, so the addon's cleanup paths run too.
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import {
  ImageBackendError,
  RbdCluster,
  blockDeviceSize,
  createQcow2Overlay,
  discardRange,
  inspect,
  zeroRange,
} from '../../dist/index.js';

const [iterations = '5', dir] = process.argv.slice(2);
if (!dir) throw new Error('usage: loop.mjs ITERATIONS WORKDIR');
const n = Number(iterations);
const MiB = 1 << 20;

const base = join(dir, 'base.qcow2');
execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '4M']);
const raw = join(dir, 'disk.raw');
writeFileSync(raw, Buffer.alloc(0));
execFileSync('truncate', ['-s', '4M', raw]);
const importFile = join(dir, 'import.raw');
writeFileSync(importFile, Buffer.concat([Buffer.alloc(MiB, 7), Buffer.alloc(MiB)]));

async function expectError(promise, what) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ImageBackendError) return;
    throw error;
  }
  throw new Error(`${what} succeeded`);
}

const ceph = process.env.CEPH_CONF
  ? {
      cephConf: process.env.CEPH_CONF,
      user: process.env.CEPH_CLIENT_USER,
      keyring: process.env.CEPH_CLIENT_KEYRING,
      pool: process.env.CEPH_POOL_VMS,
    }
  : undefined;

const counts = { inspect: 0, overlay: 0, blockdev: 0, rbd: 0 };
for (let i = 0; i < n; i++) {
  // Image inspection and qcow2 overlays.
  const info = await inspect(base, { followBackingChain: true });
  if (info.format !== 'qcow2') throw new Error(`inspect: ${info.format}`);
  await inspect(raw);
  await expectError(inspect(join(dir, 'missing')), 'inspect of a missing file');
  const overlay = join(dir, `overlay-${i}.qcow2`);
  await createQcow2Overlay(overlay, { backingFile: base, backingFormat: 'qcow2' });
  await inspect(overlay, { followBackingChain: true });
  await expectError(createQcow2Overlay(overlay, { backingFile: base }), 'overlay over an existing file');
  await rm(overlay);
  counts.inspect += 5;
  counts.overlay += 2;

  // Block device calls on a regular file.
  if ((await blockDeviceSize(raw)) !== 4 * MiB) throw new Error('blockDeviceSize');
  await zeroRange(raw, { offset: MiB, length: MiB, onProgress: () => {} });
  await discardRange(raw, { offset: 0, length: MiB }).catch(() => {});
  await expectError(blockDeviceSize(join(dir, 'missing')), 'size of a missing file');
  counts.blockdev += 4;

  // RBD: a connection per iteration (connect and close are what leak most).
  if (ceph) {
    const cluster = await RbdCluster.connect({
      cephConf: ceph.cephConf,
      user: ceph.user,
      keyring: ceph.keyring,
      connectTimeoutMs: 60_000,
      opTimeoutMs: 120_000,
    });
    const pool = cluster.pool(ceph.pool);
    const image = pool.image(`leak-${process.pid}-${i}`);
    await image.create(8 * MiB);
    if ((await image.size()) !== BigInt(8 * MiB)) throw new Error('rbd size');
    await image.stat();
    await expectError(pool.image('no-such-image').size(), 'size of a missing image');
    await image.remove();
    const imported = pool.image(`leak-import-${process.pid}-${i}`);
    await imported.import(importFile, { onProgress: () => {} });
    await imported.remove();
    // Streamed import (the native writer: aio completions through a
    // thread-safe function), then one whose source fails half-way.
    const streamed = `leak-stream-${process.pid}-${i}`;
    const chunks = async function* (fail) {
      yield Buffer.alloc(MiB, 7);
      if (fail) throw new Error('source failed');
      yield Buffer.alloc(MiB);
    };
    await pool.importStream(streamed, chunks(false), { size: 2 * MiB });
    await pool.image(streamed).remove();
    await expectError(pool.importStream(`${streamed}-fail`, chunks(true), { size: 2 * MiB }), 'a failing stream');
    await cluster.close();
    await cluster.close();
    counts.rbd += 11;
  }
}
// Under --expose-gc (as leak-check.sh runs it): collect what JS dropped, so the
// finalizers of handles and Node's wrappers of napi_create_external values run
// before exit; whatever is still lost after that is the addon's.
if (typeof globalThis.gc === 'function') {
  globalThis.gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
  globalThis.gc();
}
await writeFile(join(dir, 'done'), JSON.stringify(counts));
console.log(`leak loop: ${n} iterations: ${JSON.stringify(counts)}${ceph ? '' : ' (no cluster: RBD skipped)'}`);
