/**
 * What a compute agent does when instances land on it: fetch the base image
 * once, then make each instance's root disk from it, many at a time. Shared
 * by `imagebackend provision` and `imagebackend demo`.
 */
import { randomUUID } from 'node:crypto';
import { copyFile, open, stat } from 'node:fs/promises';
import { relative } from 'node:path';
import { performance } from 'node:perf_hooks';

import type { Backend, ImagesType } from '../backends/Backend.js';
import type { Disk } from '../backends/Disk.js';
import type { ProvisionReport as DiskProvisionReport } from '../backends/types.js';
import { cacheFileName } from '../cache/cacheFileName.js';
import type { FetchFunction } from '../cache/BaseImageCache.js';
import { runQemuImg } from '../qemu/run.js';
import { humanBytes } from './format.js';
import { ProgressBar } from './ProgressBar.js';

/** What to provision. */
export interface ProvisionPlan {
  backend: Backend;
  /** Images type for the disks (`qcow2`, `raw`, `rbd`...); default: the backend's. */
  type?: ImagesType;
  count: number;
  /** Disk size in bytes; 0: the base's size. */
  size: number;
  /** A local image file to use as the base; default: a generated one of `baseSize` bytes. */
  image?: string;
  baseSize?: number;
  /** Disks made at once. */
  concurrency: number;
  /** Where the progress bar goes; none when undefined. */
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** One provisioned disk. */
export interface DiskReport {
  instance: string;
  disk: Disk;
  /** What `cache()` reported. */
  report: DiskProvisionReport;
  ms: number;
  format: string;
  virtualSize: number;
  /** Bytes allocated (files); undefined for rbd. */
  actualSize?: number;
  backingFile?: string;
}

/** What a run did. */
export interface ProvisionReport {
  imageId: string;
  base: string;
  fetches: number;
  fetchMs: number;
  disks: DiskReport[];
  totalMs: number;
}

/**
 * A raw disk that looks bootable: an MBR with one active Linux partition and
 * the 0x55AA signature, a few MiB of "kernel" data, and holes elsewhere.
 * Made with `qemu-img create`, then written to.
 */
export async function generateBootableRaw(target: string, size: number): Promise<void> {
  await runQemuImg(['create', '-f', 'raw', target, String(size)]);
  const fh = await open(target, 'r+');
  try {
    const mbr = Buffer.alloc(512);
    mbr.write('imagebackend demo boot sector', 0x20, 'latin1');
    const entry = 446;
    mbr[entry] = 0x80; // active
    mbr[entry + 4] = 0x83; // Linux
    mbr.writeUInt32LE(2048, entry + 8); // first LBA: 1 MiB
    mbr.writeUInt32LE(Math.floor(size / 512) - 2048, entry + 12);
    mbr[510] = 0x55;
    mbr[511] = 0xaa;
    await fh.write(mbr, 0, 512, 0);
    // Some data in the partition: 4 MiB at 1 MiB and 1 MiB in the middle.
    const chunk = Buffer.alloc(1 << 20);
    for (let i = 0; i < chunk.length; i += 4096) chunk.write(`block ${i}`, i, 'latin1');
    for (let mib = 1; mib <= 4 && mib * 2 ** 20 < size; mib++) await fh.write(chunk, 0, chunk.length, mib * 2 ** 20);
    if (size > 16 * 2 ** 20) await fh.write(chunk, 0, chunk.length, Math.floor(size / 2 / 2 ** 20) * 2 ** 20);
  } finally {
    await fh.close();
  }
}

/** Runs `fn` over `items` with at most `limit` at once, in order of start. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T, i);
    }
  });
  await Promise.all(workers);
  return out;
}

/**
 * Provisions `plan.count` root disks from one base image, concurrently, and
 * describes each.
 *
 * @example
 * ```ts
 * const report = await provisionDisks({ backend, count: 50, size: 2 ** 30, concurrency: 50, progress: process.stderr });
 * ```
 */
export async function provisionDisks(plan: ProvisionPlan): Promise<ProvisionReport> {
  const imageId = randomUUID();
  const filename = cacheFileName(imageId);
  let fetches = 0;
  let fetchMs = 0;
  const fetch: FetchFunction = async ({ target }) => {
    fetches++;
    const started = performance.now();
    if (plan.image) await copyFile(plan.image, target);
    else await generateBootableRaw(target, plan.baseSize ?? 256 * 2 ** 20);
    fetchMs = performance.now() - started;
  };
  const bar = plan.progress ? new ProgressBar(plan.progress, plan.count, 'disks') : undefined;
  const instances = Array.from({ length: plan.count }, () => randomUUID());
  const started = performance.now();
  const disks = await pool(instances, plan.concurrency, async (uuid) => {
    const disk = plan.backend.image({ uuid }, 'disk', plan.type);
    const t0 = performance.now();
    const report = await disk.cache({ fetch, filename, imageId, size: plan.size });
    const ms = performance.now() - t0;
    bar?.tick();
    return { instance: uuid, disk, report, ms };
  });
  const totalMs = performance.now() - started;
  bar?.done();
  // What each disk is comes from cache()'s report; only the allocation of file disks is looked up.
  const described = await pool(disks, 8, async (d): Promise<DiskReport> => {
    const described: DiskReport = { ...d, format: d.report.format, virtualSize: d.report.virtualSize };
    if (d.report.format === 'qcow2' && d.report.base !== undefined) described.backingFile = d.report.base;
    if (d.disk.store.sourceType === 'file') described.actualSize = (await stat(d.disk.path)).blocks * 512;
    return described;
  });
  return { imageId, base: plan.backend.context.cache.path(filename), fetches, fetchMs, disks: described, totalMs };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

/** The report as readable lines: one per disk, then the timings. */
export function formatProvisionReport(report: ProvisionReport, options: { maxRows?: number; relativeTo?: string } = {}): string {
  const shown = (path: string | undefined) => (path === undefined ? '-' : options.relativeTo ? relative(options.relativeTo, path) : path);
  const lines: string[] = [];
  const rows = report.disks.slice(0, options.maxRows ?? report.disks.length);
  lines.push(`  ${'instance'.padEnd(36)}  ${'format'.padEnd(6)}  ${'virtual'.padStart(10)}  ${'on disk'.padStart(10)}  ${'ms'.padStart(7)}  backing file`);
  for (const d of rows) {
    lines.push(
      `  ${d.instance.padEnd(36)}  ${d.format.padEnd(6)}  ${humanBytes(d.virtualSize).padStart(10)}  ${(d.actualSize === undefined ? '-' : humanBytes(d.actualSize)).padStart(10)}  ${d.ms.toFixed(1).padStart(7)}  ${shown(d.backingFile)}`,
    );
  }
  if (rows.length < report.disks.length) lines.push(`  … and ${report.disks.length - rows.length} more`);
  const times = report.disks.map((d) => d.ms).sort((a, b) => a - b);
  lines.push(
    '',
    `  base image fetched ${report.fetches} time(s) in ${report.fetchMs.toFixed(0)} ms: ${report.base}`,
    `  ${report.disks.length} disks in ${report.totalMs.toFixed(0)} ms (${((report.disks.length * 1000) / report.totalMs).toFixed(1)} disks/s);` +
      ` per disk p50 ${percentile(times, 50).toFixed(1)} ms, p95 ${percentile(times, 95).toFixed(1)} ms, max ${(times.at(-1) ?? 0).toFixed(1)} ms`,
  );
  return lines.join('\n');
}
