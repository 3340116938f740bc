/** `imagebackend provision`: provision N instance disks on any backend and report them. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { Backend } from '../backends/Backend.js';
import { resolveLvmOptions, type LvmOptions } from '../lvm/options.js';
import { RbdDriver } from '../rbd/RbdDriver.js';
import { humanBytes } from './format.js';
import { formatProvisionReport, provisionDisks } from './provision.js';

/** Options of {@link runProvision}. */
export interface ProvisionCommandOptions {
  backend: 'qcow2' | 'raw' | 'rbd' | 'lvm';
  count: number;
  size: number;
  baseSize: number;
  concurrency: number;
  instancesPath?: string;
  image?: string;
  cephConf?: string;
  cephUser?: string;
  cephKeyring?: string;
  pool?: string;
  /** lvm: the volume group (required), runner, sparse volumes, wiping on cleanup. */
  lvm?: Pick<LvmOptions, 'volumeGroup' | 'runner' | 'sparse' | 'volumeClear' | 'volumeClearSizeMiB'>;
  /** Remove the disks afterwards (rbd volumes, logical volumes, instance folders). */
  cleanup: boolean;
  /** Keep a temporary instances folder (made when `instancesPath` is not given). */
  keep: boolean;
  json: boolean;
  out: NodeJS.WritableStream;
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

/**
 * Provisions `count` disks of `backend` and writes the report.
 *
 * @example
 * ```ts
 * await runProvision({ backend: 'raw', count: 10, size: 2 ** 30, baseSize: 2 ** 28, concurrency: 10, cleanup: false, keep: true, json: false, out: process.stdout });
 * ```
 */
export async function runProvision(options: ProvisionCommandOptions): Promise<void> {
  // A missing or bad volume group is LVM_NOT_CONFIGURED before anything is made.
  if (options.backend === 'lvm') resolveLvmOptions(options.lvm);
  const temporary = options.instancesPath === undefined;
  const instancesPath = options.instancesPath ? resolve(options.instancesPath) : await mkdtemp(join(tmpdir(), 'imagebackend-provision-'));
  let driver: RbdDriver | undefined;
  if (options.backend === 'rbd') {
    driver = new RbdDriver({
      pool: options.pool ?? 'rbd',
      ...(options.cephConf ? { cephConf: options.cephConf } : {}),
      ...(options.cephUser ? { user: options.cephUser } : {}),
      ...(options.cephKeyring ? { keyring: options.cephKeyring } : {}),
    });
  }
  const backend = new Backend({
    instancesPath,
    imagesType: options.backend,
    ...(driver
      ? {
          rbd: {
            driver,
            pool: driver.pool,
            ...(options.cephConf ? { cephConf: options.cephConf } : {}),
            ...(options.cephUser ? { user: options.cephUser } : {}),
            ...(options.cephKeyring ? { keyring: options.cephKeyring } : {}),
          },
        }
      : {}),
    ...(options.backend === 'lvm' ? { lvm: { ...options.lvm } } : {}),
  });
  try {
    const report = await provisionDisks({
      backend,
      count: options.count,
      size: options.size,
      baseSize: options.baseSize,
      concurrency: options.concurrency,
      ...(options.image ? { image: resolve(options.image) } : {}),
      ...(options.progress ? { progress: options.progress } : {}),
    });
    if (options.json) {
      const disks = report.disks.map(({ disk, report: cached, ...d }) => ({ ...d, path: disk.path, created: cached.created, fetched: cached.fetched, timings: cached.timings }));
      options.out.write(`${JSON.stringify({ instancesPath, backend: options.backend, ...report, disks }, null, 2)}\n`);
    } else {
      options.out.write(
        `Provisioned ${report.disks.length} ${options.backend} disks of ${humanBytes(options.size || report.disks[0]?.virtualSize || 0)} in ${instancesPath}` +
          (driver ? ` (pool ${driver.pool})` : '') +
          (options.backend === 'lvm' ? ` (volume group ${options.lvm?.volumeGroup})` : '') +
          '\n' +
          `${formatProvisionReport(report, { maxRows: 20, relativeTo: instancesPath })}\n`,
      );
    }
    if (options.cleanup) {
      for (const d of report.disks) {
        // Every store removes its own disk: an rbd image, a wiped volume, a file and its disk.info entry.
        await d.disk.remove();
        if (d.disk.store.fileInInstancePath) await rm(join(instancesPath, d.instance), { recursive: true, force: true });
      }
    }
  } finally {
    await backend.close();
    await driver?.close();
    if (temporary && !options.keep) await rm(instancesPath, { recursive: true, force: true }).catch(() => undefined);
    else if (temporary) options.out.write(`Kept ${instancesPath}\n`);
  }
}
