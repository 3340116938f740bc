// Rendering result rows: a plain-text table for the terminal and a markdown
// table for the README (scripts/bench-table.mjs). Both come from the same
// cells so they cannot disagree.

/** 0.0123 -> '12.3 µs', 4.56 -> '4.56 ms', 2345 -> '2.35 s' */
export function fmtMs(ms) {
  if (ms < 1) return `${sig(ms * 1000)} µs`;
  if (ms < 1000) return `${sig(ms)} ms`;
  return `${sig(ms / 1000)} s`;
}

function sig(x) {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function fmtStats(s) {
  return `${fmtMs(s.median)} (${fmtMs(s.min)}–${fmtMs(s.max)})`;
}

export function fmtRatio(alt) {
  const r = alt.ratio;
  if (r === null || alt.speedup === null) return '–';
  const ratio = r >= 0.1 ? r.toFixed(2) : r >= 0.001 ? r.toFixed(4) : r.toExponential(1);
  const speed = alt.speedup >= 1 ? `${alt.speedup >= 10 ? alt.speedup.toFixed(0) : alt.speedup.toFixed(1)}× faster` : `${(1 / alt.speedup).toFixed(1)}× slower`;
  return `${ratio} (${speed})`;
}

export function fmtTarget(t) {
  if (!t) return '';
  const want = t.speedup !== undefined ? `≥ ${t.speedup}×` : `< ${t.maxMs} ms`;
  return `${want} ${t.met ? 'met' : '**missed**'}`;
}

/** One array of cells per table line: a row with k alternatives gives k lines. */
export function cells(rows) {
  const lines = [];
  for (const r of rows) {
    const alts = r.alternatives.length ? r.alternatives : [undefined];
    alts.forEach((a, i) => {
      lines.push([
        i === 0 ? r.operation : '〃',
        i === 0 ? `${fmtStats(r.ours.stats)} ${r.ours.label}` : '〃',
        a ? `${fmtStats(a.stats)} ${a.label}` : '–',
        a ? fmtRatio(a) : '–',
        fmtTarget(a?.target ?? (i === 0 ? r.target : undefined)),
      ]);
    });
  }
  return lines;
}

export const HEADER = ['operation', 'ours median (min–max)', 'alternative median (min–max)', 'ratio ours/theirs', 'target'];

export function textTable(rows) {
  const all = [HEADER, ...cells(rows).map((l) => l.map((c) => c.replaceAll('**', '')))];
  const width = HEADER.map((_, i) => Math.max(...all.map((l) => [...l[i]].length)));
  const line = (l) => l.map((c, i) => c + ' '.repeat(width[i] - [...c].length)).join(' │ ');
  return [line(all[0]), width.map((w) => '─'.repeat(w)).join('─┼─'), ...all.slice(1).map(line)].join('\n');
}

export function markdownTable(rows) {
  const esc = (c) => c.replaceAll('|', '\\|');
  return [
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map(() => '---').join('|')}|`,
    ...cells(rows).map((l) => `| ${l.map(esc).join(' | ')} |`),
  ].join('\n');
}
