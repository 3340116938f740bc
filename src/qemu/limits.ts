/**
 * Resource limits for qemu-img, applied with util-linux `prlimit` the way
 * oslo.concurrency's `prlimit` wrapper does for nova: a malicious image header
 * can make `qemu-img info` allocate or compute without bound (CVE-2015-5162),
 * so every run gets an address-space and a CPU-time cap.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

import { ToolNotFoundError } from '../errors.js';

/** The prlimit(1) limits qemu-img runs under (nova's `QEMU_IMG_LIMITS`). */
export interface ResourceLimits {
  /** RLIMIT_AS in bytes; 0 means unlimited. Default 1 GiB (nova's QEMU_IMG_LIMITS). */
  addressSpaceBytes: number;
  /** RLIMIT_CPU in seconds; 0 means unlimited. Default 30 s (nova's QEMU_IMG_LIMITS). */
  cpuSeconds: number;
}

/**
 * nova's limits for qemu-img: 1 GiB of address space, 30 s of CPU time.
 *
 * @example
 * ```ts
 * const qemu = new QemuImg({ limits: { ...DEFAULT_LIMITS, cpuSeconds: 60 } });
 * ```
 */
export const DEFAULT_LIMITS: Readonly<ResourceLimits> = Object.freeze({
  addressSpaceBytes: 1 << 30,
  cpuSeconds: 30,
});

/** `prlimit` options for the limits (empty when nothing is limited). */
export function prlimitOptions(limits: ResourceLimits): string[] {
  const out: string[] = [];
  if (limits.addressSpaceBytes > 0) out.push(`--as=${limits.addressSpaceBytes}`);
  if (limits.cpuSeconds > 0) out.push(`--cpu=${limits.cpuSeconds}`);
  return out;
}

/** Human wording of the limits for error messages. */
export function describeLimits(limits: ResourceLimits): string {
  const as = limits.addressSpaceBytes > 0 ? `${(limits.addressSpaceBytes / 2 ** 20).toFixed(0)} MiB address space` : '';
  const cpu = limits.cpuSeconds > 0 ? `${limits.cpuSeconds} s CPU time` : '';
  return [as, cpu].filter(Boolean).join(', ') || 'no limits';
}

const found = new Map<string, string>();

/**
 * The absolute path of an executable, looked up in PATH once and cached;
 * rejects with `TOOL_NOT_FOUND` naming the package that provides it.
 */
export async function findProgram(name: string, packageName: string): Promise<string> {
  const cached = found.get(name);
  if (cached) return cached;
  const candidates = isAbsolute(name)
    ? [name]
    : (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter).map((dir) => join(dir, name));
  for (const candidate of [...candidates, ...(isAbsolute(name) ? [] : [join('/usr/sbin', name), join('/sbin', name)])]) {
    try {
      await access(candidate, constants.X_OK);
      found.set(name, candidate);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new ToolNotFoundError(`${name} is not installed (Debian/Ubuntu: apt-get install ${packageName})`, {
    operation: name,
  });
}
