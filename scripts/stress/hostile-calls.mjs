// A hostile loop over the native addon: wrong argument types, wrong handle
// types, missing and odd files, random and mangled image headers, bad overlay
// options, lock attempts on what is not a lock file, with a forced GC every
// few hundred calls while calls are in flight and their promises are dropped.
// The process must end normally: no crash, no abort, every call settled.
//   node --expose-gc hostile-calls.mjs <root> <scratch folder> [calls]
// Prints one JSON line: {calls, threw, rejected, resolved, gcs, ms, rssMiB}.
import { createRequire } from 'node:module';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { closeSync } from 'node:fs';
import { Buffer } from 'node:buffer';

const [root, scratch, count = '48000'] = process.argv.slice(2);
const addon = createRequire(import.meta.url)('node-gyp-build')(root);
const total = Number(count);
await mkdir(scratch, { recursive: true });
// Hostile calls pass relative names ('x', ''): whatever they create lands in the scratch folder, never in the caller's.
process.chdir(scratch);

// Seeds: every format qemu-img writes, then mangled copies of their first 64 KiB.
const seeds = [];
for (const fmt of ['qcow2', 'qed', 'vmdk', 'vpc', 'vhdx', 'vdi', 'parallels', 'raw']) {
  const p = join(scratch, `seed.${fmt}`);
  execFileSync('qemu-img', ['create', '-q', '-f', fmt, p, '16M']);
  seeds.push(p);
}
const { readFile } = await import('node:fs/promises');
const heads = await Promise.all(seeds.map(async (p) => (await readFile(p)).subarray(0, 65536)));
const mangled = [];
for (let i = 0; i < 64; i++) {
  const b = Buffer.from(heads[i % heads.length]);
  for (let j = 0; j < 16; j++) b[randomInt(Math.min(b.length, 4096))] = randomInt(256);
  const p = join(scratch, `mangled-${i}`);
  await writeFile(p, i % 4 === 0 ? b.subarray(0, randomInt(1, 600)) : b);
  mangled.push(p);
}
for (let i = 0; i < 16; i++) {
  const p = join(scratch, `random-${i}`);
  await writeFile(p, randomBytes(randomInt(1, 70000)));
  mangled.push(p);
}

const junk = [undefined, null, 0, -1, 2 ** 64, NaN, '', 'x', {}, [], () => {}, Symbol('s'), 10n, Buffer.alloc(3), new Proxy({}, {})];
const pick = (a) => a[randomInt(a.length)];
const calls = [
  () => addon.imageInspect(pick(mangled)),
  () => addon.imageInspect(pick(mangled), { followBackingChain: pick([true, false, { maxDepth: randomInt(-2, 40) }, junk[8]]) }),
  () => addon.imageInspect(pick(junk)),
  () => addon.imageInspect(pick(['/nonexistent', scratch, '/dev/null', '/proc/self/status', 'relative/x'])),
  () => addon.qcow2CreateOverlay(join(scratch, `ov-${randomInt(1e9)}`), { backingFile: pick(mangled), clusterSize: pick([3, 512, 2 ** 22, 65536, undefined]), size: pick([0, 1, -5, 2 ** 60, undefined]) }),
  () => addon.qcow2CreateOverlay(pick(junk), pick(junk)),
  // A lock that is taken is let go at once: the loop must not pile up descriptors.
  () => addon.fileLockTry(pick([scratch, '/nonexistent/x/y', pick(mangled)]), pick([true, false])).then((fd) => fd >= 0 && closeSync(fd)),
  () => addon.fileLockTry(pick(junk), pick(junk)),
  () => addon.copyRaw(pick(mangled), pick(junk)),
  () => addon.copyRaw(pick(junk), pick(junk), pick(junk)),
  () => addon.blockdevSize(pick([...junk, '/nonexistent', pick(mangled)])),
  () => addon.blockdevZero(pick(junk), pick(junk)),
  () => addon.blockdevFallocate(pick(junk), pick(junk)),
  () => addon.rbdSize(pick(junk), 'vms', 'x'),
  () => addon.rbdClone(pick(junk), 'a', 'b', 'c', 'd', 'e', pick(junk)),
  () => addon.rbdList(pick(junk), pick(junk)),
  () => addon.rbdClose(pick(junk)),
  () => addon.rbdFsid(pick(junk)),
  () => addon.rbdConnect(pick(junk)),
];

const stats = { calls: 0, threw: 0, rejected: 0, resolved: 0, gcs: 0 };
const started = performance.now();
let inflight = [];
while (stats.calls < total) {
  const call = pick(calls);
  stats.calls++;
  try {
    const p = call();
    if (p && typeof p.then === 'function') {
      // Every third promise is dropped (never awaited) before the GC runs.
      const settled = p.then(
        () => void stats.resolved++,
        () => void stats.rejected++,
      );
      if (stats.calls % 3) inflight.push(settled);
    } else stats.resolved++;
  } catch {
    stats.threw++;
  }
  if (stats.calls % 400 === 0) {
    globalThis.gc();
    stats.gcs++;
    await Promise.all(inflight);
    inflight = [];
  }
}
await Promise.all(inflight);
// Let the dropped promises settle too before the count is printed.
await new Promise((r) => setTimeout(r, 500));
globalThis.gc();
console.log(JSON.stringify({ ...stats, ms: Math.round(performance.now() - started), rssMiB: Math.round(process.memoryUsage().rss / 2 ** 20) }));
