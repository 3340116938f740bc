/**
 * Disk formats a `disk.info` entry may hold: the formats qemu reads that are
 * also driver types in libvirt's schema (`storageFormat`), so a recorded
 * format can always be put in a `<driver type=…>`. nova's backends record
 * `raw` (Flat, Lvm, Rbd), `qcow2` and `ploop`.
 *
 * @example
 * ```ts
 * if (!DISK_FORMATS.includes(format)) throw new Error(`not a disk.info format: ${format}`);
 * ```
 */
export const DISK_FORMATS = [
  'raw',
  'qcow2',
  'qcow',
  'qed',
  'vmdk',
  'vdi',
  'vpc',
  'luks',
  'ploop',
  'iso',
  'dmg',
  'cloop',
  'bochs',
] as const;

/** A disk format name that may be recorded in disk.info (one of {@link DISK_FORMATS}). */
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
