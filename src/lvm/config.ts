/**
 * The `--config` string both runners add to every command: activation off
 * where asked or where the kernel has no device-mapper, a device filter, JSON
 * output, and lvm2's command log in it so errors come back structured.
 */
import { readFile } from 'node:fs/promises';

import { invalidArgument } from '../errors.js';
import type { LvmRunnerOptions } from './LvmRunner.js';

/**
 * Whether this kernel has device-mapper: `/proc/misc` lists it once dm-mod is
 * loaded (built in or as a module).
 *
 * @example
 * ```ts
 * if (!(await hasDeviceMapper())) console.log('lvm2 runs with activation=0');
 * ```
 */
export async function hasDeviceMapper(): Promise<boolean> {
  const misc = await readFile('/proc/misc', 'utf8').catch(() => '');
  return /\bdevice-mapper\b/.test(misc);
}

/** Resolves the `activation` option to a yes/no. */
export async function resolveActivation(option: LvmRunnerOptions['activation']): Promise<boolean> {
  if (option === undefined || option === 'auto') return hasDeviceMapper();
  if (typeof option !== 'boolean') throw invalidArgument("true, false or 'auto'", 'activation', option);
  return option;
}

// A device path inside an lvm2 regex `a|^path$|`: no delimiter, quote or
// space can be expressed there; `.` and `+` become character classes.
const DEVICE_PATH = /^\/[A-Za-z0-9._+/:-]+$/;

/** Checks the `devices` option; returns a copy. */
export function checkDevices(devices: unknown): string[] | undefined {
  if (devices === undefined) return undefined;
  if (!Array.isArray(devices) || devices.length === 0) throw invalidArgument('a non-empty array of device paths', 'devices', devices);
  for (const d of devices) {
    if (typeof d !== 'string' || !DEVICE_PATH.test(d)) throw invalidArgument('an absolute device path', 'devices[]', d);
  }
  return [...(devices as string[])];
}

/**
 * One `--config` value (lvm2 honours only the last `--config` given). It
 * holds spaces but no quote of the kind `'`, so the library runner can quote it.
 *
 * @example
 * ```ts
 * configString(false, ['/dev/loop3']);
 * // 'global/activation=0 devices/filter=["a|^/dev/loop3$|","r|.*|"] log/report_command_log=1 report/output_format=json'
 * ```
 */
export function configString(activation: boolean, devices: readonly string[] | undefined): string {
  const parts: string[] = [];
  if (!activation) parts.push('global/activation=0');
  if (devices) {
    const accept = devices.map((d) => `"a|^${d.replace(/[.+]/g, '[$&]')}$|"`);
    parts.push(`devices/filter=[${[...accept, '"r|.*|"'].join(',')}]`);
  }
  // JSON through the config rather than --reportformat, which lvcreate
  // refuses for snapshots (sparse volumes).
  parts.push('log/report_command_log=1', 'report/output_format=json');
  return parts.join(' ');
}
