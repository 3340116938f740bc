#!/usr/bin/env node
// npm run bench [-- --quick] [--only a,b] [--skip a,b] [--record] [--notes "..."]
//
// Runs every benchmark group against the compiled library in dist/ (as a user
// would import it), each against the real alternative in the same run, prints
// one table and writes bench/results/<YYYY-MM-DD>.json (quick runs:
// <date>.quick.json, which the README table ignores). A partial run
// (--only/--skip) only prints, unless --record: then its rows replace those of
// the same groups in the newest results file, written as today's file (to
// re-record a few groups, e.g. the nova rows, without re-running the rest).
//
// A group is any bench/*.mjs whose default export is
//   { name, order?, needs: ('ceph' | 'python' | 'nova' | 'loop')[], run(ctx) => rows }
// with rows made by bench/lib/harness.mjs (measure + compareRow). Adding a
// row is adding one such file. ctx holds:
//   quick      boolean (--quick: fewer repetitions, 256 MiB instead of 1 GiB where slow)
//   lib        the library (dist/index.js)
//   work       a scratch folder, removed at the end
//   ceph       { env (KEY=VALUE of scripts/ceph-cluster.sh), admin, compute } (RbdCluster
//              connections as client.admin and as the restricted compute user)   needs 'ceph'
//   python()   nova's RBDDriver in a Python process (bench/python/nova_rbd.py)   needs 'python'
//   loop       { device, backing } a 1 GiB loop device (root)                    needs 'loop'
//   (needs 'nova': Debian's python3-nova, checked up front; see bench/lib/nova.mjs)
//   glance     { url, fileStore } a real Glance (scripts/glance-fixture.sh, file store) needs 'glance'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { ROOT, attachLoop, isRoot, machineInfo, scratchDir, startCeph } from './lib/env.mjs';
import { GiB, MiB } from './lib/files.mjs';
import { startGlance } from './lib/glance.mjs';
import { textTable } from './lib/format.mjs';
import { novaMissing } from './lib/nova.mjs';
import { NovaPython } from './lib/python.mjs';

const BENCH = import.meta.dirname;
const NOT_GROUPS = new Set(['run.mjs', 'table.mjs']);

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    skip: { type: 'string' },
    notes: { type: 'string', multiple: true, default: [] },
    record: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
const list = (s) => (s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined);

async function loadGroups() {
  const files = (await readdir(BENCH)).filter((f) => f.endsWith('.mjs') && !NOT_GROUPS.has(f));
  const groups = [];
  for (const f of files) {
    const g = (await import(join(BENCH, f))).default;
    if (!g || typeof g.name !== 'string' || typeof g.run !== 'function') {
      throw new Error(`bench/${f}: the default export must be { name, needs, run(ctx) }`);
    }
    groups.push({ order: 50, needs: [], ...g, file: f });
  }
  return groups.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

async function loadLibrary() {
  try {
    // The package root plus its nova subpath (RbdDriver and nova's names).
    return { ...(await import(join(ROOT, 'dist', 'nova.js'))), ...(await import(join(ROOT, 'dist', 'index.js'))) };
  } catch (error) {
    throw new Error(
      `cannot load the compiled library (dist/index.js): ${error.message}\n` +
        'build it first: npm ci && npx node-gyp rebuild && npx tsc -p tsconfig.build.json (or scripts/setup.sh)',
    );
  }
}

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);
const today = () => new Date().toLocaleDateString('sv'); // YYYY-MM-DD, local time
const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);

async function main() {
  if (args.help) {
    process.stdout.write(
      'usage: npm run bench -- [--quick] [--only g1,g2] [--skip g1,g2] [--record] [--notes TEXT]...\n' +
        `groups: ${(await loadGroups()).map((g) => g.name).join(', ')}\n`,
    );
    return 0;
  }
  const all = await loadGroups();
  const only = list(args.only);
  const skip = list(args.skip) ?? [];
  for (const n of [...(only ?? []), ...skip]) {
    if (!all.some((g) => g.name === n)) throw new Error(`no bench group '${n}' (have: ${all.map((g) => g.name).join(', ')})`);
  }
  const groups = all.filter((g) => (!only || only.includes(g.name)) && !skip.includes(g.name));
  const needs = new Set(groups.flatMap((g) => g.needs));
  if (needs.has('loop') && !isRoot()) {
    throw new Error(
      'npm run bench needs root: the zeroing group attaches a loop device (losetup) and zeroes it.\n' +
        'Run it as root (sudo npm run bench), or leave that group out with: npm run bench -- --skip zero',
    );
  }

  if (needs.has('nova')) {
    const missing = novaMissing();
    if (missing) throw new Error(`${missing}; or leave the nova groups out with --skip`);
  }

  const lib = await loadLibrary();
  const cleanups = [];
  const cleanup = async () => {
    while (cleanups.length) {
      const [what, fn] = cleanups.pop();
      try {
        await fn();
      } catch (error) {
        log(`cleanup of ${what} failed: ${error.message}`);
      }
    }
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      log(`${sig}: tearing down`);
      cleanup().finally(() => process.exit(130));
    });
  }

  const started = new Date();
  const loadStart = load();
  const ctx = { quick: args.quick, lib, log };
  const results = [];
  const groupLog = [];
  try {
    ctx.work = await scratchDir();
    cleanups.push(['scratch folder', () => rm(ctx.work, { recursive: true, force: true })]);
    if (needs.has('ceph') || needs.has('python')) {
      log('starting the Ceph cluster');
      const { env, stop } = await startCeph();
      cleanups.push(['Ceph cluster', stop]);
      const connect = (user, keyring) => lib.RbdCluster.connect({ cephConf: env.CEPH_CONF, user, keyring });
      ctx.ceph = {
        env,
        admin: await connect(env.CEPH_ADMIN_USER, env.CEPH_ADMIN_KEYRING),
        compute: await connect(env.CEPH_CLIENT_USER, env.CEPH_CLIENT_KEYRING),
      };
      cleanups.push(['RBD connections', () => Promise.all([ctx.ceph.admin.close(), ctx.ceph.compute.close()])]);
      let py;
      ctx.python = () => {
        if (!py) {
          py = new NovaPython({ conf: env.CEPH_CONF, user: env.CEPH_CLIENT_USER });
          cleanups.push(['Python harness', () => py.close()]);
        }
        return py;
      };
    }
    if (needs.has('glance')) {
      log('starting Glance');
      const glance = await startGlance();
      cleanups.push(['Glance', glance.stop]);
      ctx.glance = glance;
    }
    if (needs.has('loop')) {
      ctx.loop = await attachLoop(ctx.work, args.quick ? 256 * MiB : GiB);
      cleanups.push([`loop device ${ctx.loop.device}`, ctx.loop.detach]);
      log(`loop device ${ctx.loop.device}`);
    }
    const machine = await machineInfo();

    for (const g of groups) {
      log(`${g.name} (bench/${g.file})…`);
      const t0 = Date.now();
      const entry = { name: g.name, loadBefore: load() };
      try {
        const rows = await g.run(ctx);
        results.push(...rows);
        process.stderr.write(`${textTable(rows)}\n`);
      } catch (error) {
        entry.error = error.stack ?? String(error);
        log(`${g.name} FAILED: ${entry.error}`);
      }
      entry.seconds = (Date.now() - t0) / 1000;
      entry.loadAfter = load();
      groupLog.push(entry);
    }

    const failed = groupLog.filter((g) => g.error);
    const report = {
      schema: 1,
      date: started.toISOString(),
      quick: args.quick,
      machine,
      loadavg: { start: loadStart, end: load() },
      notes: args.notes,
      groups: groupLog,
      rows: results,
    };
    const dir = join(BENCH, 'results');
    await mkdir(dir, { recursive: true });
    const file = join(dir, `${today()}${args.quick ? '.quick' : ''}.json`);
    const partial = Boolean(only || skip.length);
    if (partial && args.record) {
      await writeFile(file, `${JSON.stringify(await mergeInto(dir, report, args.quick), null, 2)}\n`);
    } else if (partial) {
      log('partial run (--only/--skip): results are printed, not written (add --record to merge them into the newest results)');
    } else {
      await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    }

    process.stdout.write(`\n${textTable(results)}\n\n`);
    process.stdout.write(
      `${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, ${machine.ceph}, ${machine.qemuImg}; ` +
        `load average ${loadStart.join(' ')} → ${report.loadavg.end.join(' ')}\n`,
    );
    if ((!only && !skip.length) || args.record) process.stdout.write(`results: ${file}\n`);
    if (failed.length) {
      log(`failed groups: ${failed.map((g) => g.name).join(', ')}`);
      return 1;
    }
    return 0;
  } finally {
    await cleanup();
  }
}

/**
 * A partial run's report merged into the newest results file of the same kind
 * (quick or full): the groups it ran replace theirs (rows and group log), the
 * rest is kept as recorded; `partOf` names the file it was merged into.
 */
async function mergeInto(dir, report, quick) {
  const pattern = quick ? /^\d{4}-\d{2}-\d{2}\.quick\.json$/ : /^\d{4}-\d{2}-\d{2}\.json$/;
  const newest = (await readdir(dir)).filter((f) => pattern.test(f)).sort().at(-1);
  if (!newest) return report;
  const previous = JSON.parse(await readFile(join(dir, newest), 'utf8'));
  const ran = new Set(report.groups.filter((g) => !g.error).map((g) => g.name));
  const rowsRan = new Set(report.rows.map((r) => r.group));
  return {
    ...previous,
    notes: [...(previous.notes ?? []), `${report.date}: re-recorded ${[...ran].join(', ')} (load average ${report.loadavg.start.join(' ')} → ${report.loadavg.end.join(' ')})`, ...report.notes],
    groups: [...previous.groups.filter((g) => !ran.has(g.name)), ...report.groups],
    rows: mergeRows(previous.rows, report.rows, rowsRan),
    mergedFrom: [...(previous.mergedFrom ?? [newest]), report.date],
  };
}

// The new rows take the place of the old rows of their group (the table keeps its order).
function mergeRows(previous, fresh, groups) {
  const out = [];
  const placed = new Set();
  for (const r of previous) {
    if (!groups.has(r.group)) out.push(r);
    else if (!placed.has(r.group)) {
      placed.add(r.group);
      out.push(...fresh.filter((f) => f.group === r.group));
    }
  }
  return [...out, ...fresh.filter((f) => !placed.has(f.group))];
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`[bench] ${error.message}\n`);
    process.exit(1);
  },
);
