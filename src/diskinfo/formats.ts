/**
 * Disk formats a `disk.info` entry may hold: the driver types libvirt's schema
 * accepts for disks that nova's backends create or import (`raw` for
 * Flat/Lvm/Rbd, `qcow2`, `ploop`) and the image formats qemu reads.
 */
export const DISK_FORMATS = [
  'raw',
  'qcow2',
  'qcow',
  'qed',
  'vmdk',
  'vdi',
  'vpc',
  'vhdx',
  'luks',
  'ploop',
  'parallels',
  'iso',
  'dmg',
  'cloop',
  'bochs',
] as const;

export type DiskFormat = (typeof DISK_FORMATS)[number];

const known: ReadonlySet<string> = new Set(DISK_FORMATS);

/**
 * Whether `value` is one of {@link DISK_FORMATS}.
 *
 * @example
 * ```ts
 * isDiskFormat('qcow2'); // true
 * isDiskFormat('QCOW2'); // false
 * ```
 */
export function isDiskFormat(value: unknown): value is DiskFormat {
  return typeof value === 'string' && known.has(value);
}
