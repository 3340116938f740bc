// Timing: warmup, N repetitions, median/min/max, and ours-vs-theirs rows.
//
// A "case" is one way of doing an operation (ours, or an alternative). Cases
// of one operation are measured interleaved (ours, alt1, alt2, ours, ...) so a
// burst of background load lands on all of them rather than on one.
import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/**
 * Median, min, max (ms) of a list of samples (ms).
 * @param {number[]} samples
 */
export function summarize(samples) {
  if (samples.length === 0) throw new Error('no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { n: sorted.length, median, min: sorted[0], max: sorted.at(-1), samples: samples.map(round) };
}

const round = (x) => Math.round(x * 1000) / 1000;

/**
 * @typedef {object} Case
 * @property {string} key        short id, e.g. 'ours', 'qemu-img'
 * @property {string} label      what the table shows, e.g. 'inspect()'
 * @property {(i: number) => Promise<unknown>} fn  the timed operation
 * @property {boolean} [selfTimed]  fn resolves to its own duration (ms), which
 *   is taken as the sample instead of the wall time around the call (e.g. the
 *   Python harness timing itself, so Node's pipe to it is not counted)
 * @property {(i: number) => Promise<void> | void} [setup]     untimed, before each run
 * @property {(i: number) => Promise<void> | void} [teardown]  untimed, after each run
 * @property {number} [reps]     overrides the shared count (fast ours, slow theirs)
 */

/**
 * Runs every case `warmup` times untimed, then round-robin until each has its
 * repetitions. Returns { key: stats }.
 * @param {Case[]} cases
 * @param {{ reps: number, warmup?: number }} options
 */
export async function measure(cases, { reps, warmup = 1 }) {
  const samples = new Map(cases.map((c) => [c.key, []]));
  const once = async (c, i) => {
    await c.setup?.(i);
    const t0 = performance.now();
    const self = await c.fn(i);
    const wall = performance.now() - t0;
    await c.teardown?.(i);
    if (!c.selfTimed) return wall;
    if (typeof self !== 'number') throw new Error(`self-timed case ${c.key} resolved to ${self}, not a duration`);
    return self;
  };
  let i = 0;
  for (let w = 0; w < warmup; w++) for (const c of cases) await once(c, i++);
  for (let more = true; more; ) {
    more = false;
    for (const c of cases) {
      const got = samples.get(c.key);
      if (got.length >= (c.reps ?? reps)) continue;
      got.push(await once(c, i++));
      more = true;
    }
  }
  return Object.fromEntries(cases.map((c) => [c.key, summarize(samples.get(c.key))]));
}

/**
 * One table row: ours against one or more alternatives.
 *
 * A target is either { speedup: 200 } (the alternative's median divided by
 * ours must reach it) or { maxMs: 10 } (our median must stay below it).
 *
 * @param {object} r
 * @param {string} r.group
 * @param {string} r.operation
 * @param {{ label: string, stats: ReturnType<typeof summarize> }} r.ours
 * @param {{ label: string, stats: ReturnType<typeof summarize>, target?: object, note?: string }[]} r.alternatives
 * @param {object} [r.target]  for targets on ours alone ({ maxMs })
 * @param {string} [r.context] one line of measured context for the README (e.g. a floor or a ceiling)
 * @param {object} [r.details] anything else worth keeping in the JSON
 */
export function row({ group, operation, ours, alternatives = [], target, context, details }) {
  const judge = (t, alt) => {
    if (!t) return undefined;
    if (t.speedup !== undefined) return alt.stats.median / ours.stats.median >= t.speedup;
    if (t.maxMs !== undefined) return ours.stats.median < t.maxMs;
    throw new Error(`unknown target ${JSON.stringify(t)}`);
  };
  return {
    group,
    operation,
    ours,
    target: target ? { ...target, met: judge(target) } : undefined,
    alternatives: alternatives.map((a) => ({
      ...a,
      // null where a median is 0 (e.g. no measurable idle lag): no ratio to speak of.
      ratio: a.stats.median > 0 ? ours.stats.median / a.stats.median : null,
      speedup: ours.stats.median > 0 ? a.stats.median / ours.stats.median : null,
      target: a.target ? { ...a.target, met: judge(a.target, a) } : undefined,
    })),
    context,
    details,
  };
}

/** A row from measure() output: `ours` is the key 'ours', the rest are alternatives. */
export function compareRow({ group, operation, stats, labels, targets = {}, notes = {}, target, context, details }) {
  return row({
    group,
    operation,
    ours: { label: labels.ours, stats: stats.ours },
    alternatives: Object.keys(stats)
      .filter((k) => k !== 'ours')
      .map((k) => ({ key: k, label: labels[k] ?? k, stats: stats[k], target: targets[k], note: notes[k] })),
    target,
    context,
    details,
  });
}

/**
 * execFile as a promise; rejects with the command's stderr in the message, so
 * a broken alternative fails the bench loudly instead of timing an error.
 * @param {string} cmd
 * @param {string[]} args
 * @param {import('node:child_process').ExecFileOptions} [options]
 * @returns {Promise<{ stdout: string, stderr: string }>}
 */
export function run(cmd, args, options = {}) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 << 20, encoding: 'utf8', ...options }, (error, stdout, stderr) => {
      if (error) {
        error.message = `${cmd} ${args.join(' ')} failed: ${error.message}\n${stderr}`;
        reject(error);
      } else resolve({ stdout, stderr });
    });
  });
}

/** Repetition counts: full runs by default, a few with --quick. */
export function repsFor(ctx, { full, quick }) {
  return ctx.quick ? quick : full;
}
