#!/usr/bin/env node
// Re-measures the robustness figures of issue 13 against the built package
// (dist/ and the addon: `npm run build` first). Each stage prints its figure
// and whether it holds; the exit status is non-zero when one does not.
//
//   node scripts/stress.mjs [stage...]     stages: provision diskinfo clones hostile qemu (default: all)
//
// provision  8 processes × 50 qcow2 disks from one base, sharing one
//            instances folder: 400/400 valid disks, exactly one fetch
// diskinfo   8 processes writing one disk.info at once: every entry there,
//            the file valid JSON
// clones     500 concurrent RBD clones × 6 rounds over one connection on a
//            throwaway cluster (scripts/ceph-cluster.sh): no failure,
//            threads and fds the same after every round
// hostile    about 48,000 hostile native calls with a forced GC every 400:
//            the process ends normally
// qemu       qemu-img's limits: the address-space limit, the CPU-time limit
//            and the wall-clock timeout each stop qemu-img, typed
//
// Reuses the test children (test/unit/children) with IMAGEBACKEND_DIST=dist.
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const lib = await import(pathToFileURL(join(dist, 'index.js')).href);
const run = promisify(execFile);
const stages = process.argv.slice(2).length ? process.argv.slice(2) : ['provision', 'diskinfo', 'clones', 'hostile', 'qemu'];
const results = [];

function child(script, args, env = {}, nodeArgs = []) {
  return new Promise((done) => {
    const p = spawn(process.execPath, [...nodeArgs, script, ...args], { env: { ...process.env, IMAGEBACKEND_DIST: dist, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    p.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    p.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

function report(stage, figure, holds, seconds) {
  results.push({ stage, figure, holds });
  console.log(`${holds ? 'holds ' : 'BROKEN'}  ${stage.padEnd(9)} ${figure}  (${seconds.toFixed(1)} s)`);
}

async function timed(fn) {
  const t0 = performance.now();
  const out = await fn();
  return [out, (performance.now() - t0) / 1000];
}

async function provision() {
  const dir = await mkdtemp(join(tmpdir(), 'ib-stress-provision-'));
  try {
    const PROCS = 8;
    const DISKS = 50;
    const counter = join(dir, 'fetches');
    const [runs, seconds] = await timed(() =>
      Promise.all(
        Array.from({ length: PROCS }, (_, p) =>
          child(join(root, 'test/unit/children/backend-provision.mjs'), [dir, String(p), String(DISKS), counter, String(8 << 20)]),
        ),
      ),
    );
    const clean = runs.filter((r) => r.code === 0 && r.stdout === 'done\n').length;
    const fetches = (await readFile(counter, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean).length;
    const base = join(dir, '_base', lib.cacheFileName('shared-image'));
    let valid = 0;
    for (let i = 0; i < DISKS; i++) {
      for (let p = 0; p < PROCS; p++) {
        const info = await lib.inspect(join(dir, `inst-${i}`, `disk-${p}`)).catch(() => undefined);
        if (info?.format === 'qcow2' && info.backingFile === base && !info.corrupt) valid++;
      }
    }
    const total = PROCS * DISKS;
    report('provision', `${PROCS} processes × ${DISKS} qcow2 disks: ${valid}/${total} valid, ${fetches} fetch(es), ${clean}/${PROCS} processes clean`, valid === total && fetches === 1 && clean === PROCS, seconds);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function diskinfo() {
  const dir = await mkdtemp(join(tmpdir(), 'ib-stress-diskinfo-'));
  try {
    const PROCS = 8;
    const EACH = 50;
    const path = join(dir, 'disk.info');
    const [runs, seconds] = await timed(() =>
      Promise.all(Array.from({ length: PROCS }, (_, t) => child(join(root, 'test/unit/children/diskinfo-writer.mjs'), [path, String(EACH), String(t)]))),
    );
    let entries = -1;
    try {
      entries = Object.keys(JSON.parse(await readFile(path, 'utf8'))).length;
    } catch {
      // not valid JSON: entries stays -1
    }
    const clean = runs.filter((r) => r.code === 0).length;
    const expected = PROCS * EACH + 1;
    report('diskinfo', `${PROCS} writer processes × ${EACH} entries on one disk.info: ${entries}/${expected} entries, valid JSON ${entries >= 0}`, entries === expected && clean === PROCS, seconds);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function clones() {
  const dir = await mkdtemp(join(tmpdir(), 'ib-stress-ceph-'));
  const script = join(root, 'scripts/ceph-cluster.sh');
  try {
    const { stdout } = await run('bash', [script, 'start', dir], { maxBuffer: 1 << 20 });
    const vars = Object.fromEntries(stdout.trim().split('\n').map((l) => l.split('=', 2)));
    const [r, seconds] = await timed(() =>
      child(join(root, 'scripts/stress/clone-rounds.mjs'), ['500', '6'], {
        CEPH_CONF: vars.CEPH_CONF,
        CEPH_CLIENT_USER: vars.CEPH_CLIENT_USER,
        CEPH_CLIENT_KEYRING: vars.CEPH_CLIENT_KEYRING,
        CEPH_POOL: vars.CEPH_POOL_VMS,
      }),
    );
    const rounds = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const failed = rounds.reduce((n, x) => n + x.failed, 0);
    const ok = rounds.reduce((n, x) => n + x.ok, 0);
    // Round 1 warms the pools up (librados threads, the addon's executor); from then on nothing may grow.
    const later = rounds.slice(1);
    const steady = later.length > 0 && later.every((x) => x.threads === later[0].threads && x.fds === later[0].fds);
    const shape = rounds.map((x) => `${x.ms} ms/${x.threads}t/${x.fds}fd`).join(', ');
    report('clones', `500 concurrent clones × ${rounds.length} rounds: ${ok} ok, ${failed} failed; per round ${shape}`, r.code === 0 && rounds.length === 6 && failed === 0 && steady, seconds);
    if (r.code !== 0) console.log(r.stderr.trim().split('\n').slice(-5).join('\n'));
  } finally {
    await run('bash', [script, 'stop', dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

async function hostile() {
  const dir = await mkdtemp(join(tmpdir(), 'ib-stress-hostile-'));
  try {
    const [r, seconds] = await timed(() => child(join(root, 'scripts/stress/hostile-calls.mjs'), [root, dir, '48000'], {}, ['--expose-gc']));
    const line = r.stdout.trim().split('\n').pop() ?? '{}';
    const s = JSON.parse(line.startsWith('{') ? line : '{}');
    const settled = (s.threw ?? 0) + (s.rejected ?? 0) + (s.resolved ?? 0);
    report('hostile', `${s.calls} hostile native calls (${s.threw} threw, ${s.rejected} rejected, ${s.resolved} resolved), ${s.gcs} forced GCs, rss ${s.rssMiB} MiB, exit ${r.code ?? r.signal}`, r.code === 0 && r.signal === null && settled === s.calls && s.calls >= 48000, seconds);
    if (r.code !== 0) console.log(r.stderr.trim().split('\n').slice(-5).join('\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function qemu() {
  const dir = await mkdtemp(join(tmpdir(), 'ib-stress-qemu-'));
  try {
    const qcow2 = join(dir, 'small.qcow2');
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', qcow2, '1G']);
    const noisy = join(dir, 'noisy.raw');
    await writeFile(noisy, randomBytes(96 << 20));
    const outcome = async (fn) => {
      try {
        await fn();
        return 'ran';
      } catch (e) {
        return `${e.code}${e.process?.resourceLimited ? ' (resource limits)' : ''}${e.process?.timedOut ? ' (timeout)' : ''}${e.process?.signal ? ` ${e.process.signal}` : ''}`;
      }
    };
    const [[ok, as, cpu, wall], seconds] = await timed(() =>
      Promise.all([
        outcome(() => new lib.QemuImg().info(qcow2, { format: 'qcow2' })),
        outcome(() => new lib.QemuImg({ limits: { addressSpaceBytes: 16 << 20 } }).info(qcow2, { format: 'qcow2' })),
        outcome(() => new lib.QemuImg().convert(noisy, join(dir, 'cpu.qcow2'), { srcFormat: 'raw', dstFormat: 'qcow2', compress: true, trusted: true, limits: { cpuSeconds: 1 } })),
        outcome(() => new lib.QemuImg().convert(noisy, join(dir, 'wall.qcow2'), { srcFormat: 'raw', dstFormat: 'qcow2', compress: true, trusted: true, timeoutMs: 300 })),
      ]),
    );
    const holds = ok === 'ran' && as.includes('resource limits') && cpu.includes('resource limits') && wall.startsWith('QEMU_TIMEOUT');
    report('qemu', `default limits: info ${ok}; 16 MiB address space: ${as}; 1 s of CPU: ${cpu}; 300 ms wall clock: ${wall}`, holds, seconds);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const all = { provision, diskinfo, clones, hostile, qemu };
console.log(`imagebackend robustness figures, ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${(await readdir('/sys/devices/system/cpu')).filter((n) => /^cpu\d+$/.test(n)).length} CPUs`);
for (const stage of stages) {
  if (!all[stage]) throw new Error(`unknown stage ${stage}; stages: ${Object.keys(all).join(' ')}`);
  await all[stage]();
}
process.exitCode = results.every((r) => r.holds) ? 0 : 1;
