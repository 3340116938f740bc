/**
 * Resource limits for qemu-img, applied with util-linux `prlimit` the way
 * oslo.concurrency's `prlimit` wrapper does for nova: a malicious image header
 * can make `qemu-img info` allocate or compute without bound (CVE-2015-5162),
 * so every run gets an address-space and a CPU-time cap.
 */
import type { ResourceLimits } from '../process/prlimit.js';

export type { ResourceLimits } from '../process/prlimit.js';

/**
 * nova master's limits for qemu-img: 2 GiB of address space (raised from
 * 1 GiB for bug 2116852: qemu-img's thread pools and a large qcow2's L1/refcount
 * tables need more), 30 s of CPU time.
 *
 * @example
 * ```ts
 * const qemu = new QemuImg({ limits: { ...DEFAULT_LIMITS, cpuSeconds: 60 } });
 * ```
 */
export const DEFAULT_LIMITS: Readonly<ResourceLimits> = Object.freeze({
  addressSpaceBytes: 2 * 2 ** 30,
  cpuSeconds: 30,
});
