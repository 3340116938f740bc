/**
 * Resource limits applied with util-linux `prlimit`, the way
 * oslo.concurrency's `prlimit` wrapper does for nova.
 */

/** The prlimit(1) limits a program runs under. */
export interface ResourceLimits {
  /** RLIMIT_AS in bytes; 0 means unlimited. */
  addressSpaceBytes: number;
  /** RLIMIT_CPU in seconds; 0 means unlimited. */
  cpuSeconds: number;
}

/**
 * `prlimit` options for the limits (empty when nothing is limited).
 *
 * @example
 * ```ts
 * prlimitOptions({ addressSpaceBytes: 2 ** 31, cpuSeconds: 30 }); // ['--as=2147483648', '--cpu=30']
 * ```
 */
export function prlimitOptions(limits: ResourceLimits): string[] {
  const out: string[] = [];
  if (limits.addressSpaceBytes > 0) out.push(`--as=${limits.addressSpaceBytes}`);
  if (limits.cpuSeconds > 0) out.push(`--cpu=${limits.cpuSeconds}`);
  return out;
}

/**
 * Human wording of the limits for error messages.
 *
 * @example
 * ```ts
 * describeLimits({ addressSpaceBytes: 2 ** 31, cpuSeconds: 30 }); // '2048 MiB address space, 30 s CPU time'
 * ```
 */
export function describeLimits(limits: ResourceLimits): string {
  const as = limits.addressSpaceBytes > 0 ? `${(limits.addressSpaceBytes / 2 ** 20).toFixed(0)} MiB address space` : '';
  const cpu = limits.cpuSeconds > 0 ? `${limits.cpuSeconds} s CPU time` : '';
  return [as, cpu].filter(Boolean).join(', ') || 'no limits';
}
