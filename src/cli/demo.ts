/**
 * `imagebackend demo` (what `npm start` runs): a compute agent's day on the
 * embedded default, qcow2 overlays on local files in a temporary instances
 * folder, no cluster. Fetch a base once, provision a batch of instance disks
 * concurrently, extract a snapshot, and print what happened.
 */
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';

import { Backend } from '../backends/Backend.js';
import { DiskInfo } from '../diskinfo/DiskInfo.js';
import { inspect } from '../image/inspect.js';
import { humanBytes } from './format.js';
import { formatProvisionReport, provisionDisks } from './provision.js';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  count: number;
  /** Each disk's size, bytes. */
  size: number;
  /** The generated base image's size, bytes. */
  baseSize: number;
  /** Keep the temporary instances folder (its path is printed). */
  keep: boolean;
  out: NodeJS.WritableStream;
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * Runs the demo and writes its summary to `options.out`.
 *
 * @example
 * ```ts
 * await runDemo({ count: 50, size: 2 ** 30, baseSize: 256 * 2 ** 20, keep: false, out: process.stdout, progress: process.stderr });
 * ```
 */
export async function runDemo(options: DemoOptions): Promise<void> {
  const say = (line = '') => options.out.write(`${line}\n`);
  const instancesPath = await mkdtemp(join(tmpdir(), 'imagebackend-demo-'));
  const backend = new Backend({ instancesPath, imagesType: 'default', useCowImages: true });
  try {
    say('imagebackend demo: a compute agent provisioning instance disks');
    say(`  instances folder: ${instancesPath} (temporary)`);
    say(`  backend: default → ${backend.storeClass().name} (useCowImages), qcow2 overlays on a raw base`);
    say(`  ${options.count} instances, root disk ${humanBytes(options.size)}, base image ${humanBytes(options.baseSize)} (generated with qemu-img, sparse)`);
    say();

    const report = await provisionDisks({
      backend,
      count: options.count,
      size: options.size,
      baseSize: options.baseSize,
      concurrency: options.count,
      ...(options.progress ? { progress: options.progress } : {}),
    });
    const baseInfo = await inspect(report.base);
    say('Base image (fetched once into the cache, under a lock that holds across processes):');
    say(`  ${report.base}`);
    say(`  format ${baseInfo.format}, virtual ${humanBytes(baseInfo.virtualSize)}, on disk ${humanBytes(baseInfo.actualSize)}, safe: ${baseInfo.safety.safe ? 'yes' : 'no'}`);
    say();
    say('Instance disks:');
    say(formatProvisionReport(report, { relativeTo: instancesPath }));
    say();

    const first = report.disks[0];
    if (!first) return;
    const { timings, ...what } = first.report;
    const ms = Object.fromEntries(Object.entries(timings).map(([step, t]) => [step, Math.round(t * 100) / 100]));
    say(`What cache() reported for ${first.instance} (no second inspection needed):`);
    say(`  ${JSON.stringify({ ...what, base: what.base === undefined ? undefined : relative(instancesPath, what.base) })}`);
    say(`  timings (ms): ${JSON.stringify(ms)}`);
    say();
    const diskInfo = await new DiskInfo(join(instancesPath, first.instance, 'disk.info')).read();
    say(`disk.info of ${first.instance} (the format recorded at creation, trusted afterwards):`);
    say(`  ${JSON.stringify(diskInfo)}`);
    say();

    const snapshot = join(instancesPath, 'snapshots', `${first.instance}.qcow2`);
    await mkdir(join(instancesPath, 'snapshots'), { recursive: true });
    const t0 = performance.now();
    await first.disk.snapshotExtract(snapshot, 'qcow2');
    const snapMs = performance.now() - t0;
    const snapInfo = await inspect(snapshot);
    say('Snapshot (snapshotExtract: qemu-img convert, source format from disk.info):');
    say(`  ${snapshot}`);
    say(
      `  format ${snapInfo.format}, virtual ${humanBytes(snapInfo.virtualSize)}, on disk ${humanBytes(snapInfo.actualSize)}, ` +
        `backing file: ${snapInfo.backingFile ?? 'none'}, ${snapMs.toFixed(0)} ms`,
    );
    say();

    const config = await first.disk.libvirtInfo({
      diskBus: 'virtio',
      diskDev: 'vda',
      deviceType: 'disk',
      cacheMode: 'none',
      extraSpecs: { 'quota:disk_total_iops_sec': '500', 'quota:disk_total_bytes_sec': String(100 * 2 ** 20) },
      bootOrder: 1,
    });
    say(`libvirt <disk> of ${first.instance} (libvirtInfo, with the flavor's quota:disk_* as iotune):`);
    for (const line of config.toXml().split('\n')) say(`  ${line}`);
    say();
    const entries = await readdir(instancesPath);
    say(`Done: ${entries.filter((e) => e !== '_base' && e !== 'locks' && e !== 'snapshots').length} instance folders, ${(await readdir(join(instancesPath, '_base'))).length} base file(s).`);
  } finally {
    await backend.close();
    if (options.keep) say(`Kept ${instancesPath}`);
    else await rm(instancesPath, { recursive: true, force: true });
  }
}
