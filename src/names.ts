/**
 * Every name the library puts into a path, a tool's argv or a Ceph object is
 * checked here, one validator per kind of name, each throwing
 * {@link InvalidArgumentError} worded `Expected <what> for <argument> but
 * received <value>` (see {@link invalidArgument}).
 */
import { invalidArgument } from './errors.js';

/** Linux's NAME_MAX: the longest file name (one path component), in bytes. */
export const MAX_FILE_NAME_BYTES = 255;

/**
 * The longest RBD image, snapshot or pool name accepted, in bytes. RADOS
 * refuses object names over `osd_max_object_name_len` (2048 by default) and a
 * format-2 image's name is stored in the object `rbd_id.<name>`; 1000 leaves
 * room for that prefix and for the staging suffix a crash-safe import adds
 * while it writes (src/rbd/importStream.ts).
 */
export const MAX_RBD_NAME_BYTES = 1000;

/** lvm2's NAME_LEN is 128 including the terminating NUL: a volume group name has at most 127 characters. */
export const MAX_LVM_NAME_BYTES = 127;

/**
 * lvm2's limit on a logical volume is on the pair: lvm2 (2.03.16, checked
 * with lvcreate on a loop device) refuses an LV whose `<vg>/<lv>` name plus
 * two more characters reaches NAME_LEN ("Internal error: LV name ... length N
 * is not supported"), i.e. it needs len(vg) + len(lv) <= 124; with the
 * shortest group (1 character) an LV name has at most 123.
 */
export const MAX_LVM_PAIR_CHARS = 124;

// A conservative file name: what nova's names (uuids, sha1 hex, disk names such
// as `disk.eph0`) use; no leading '.' or '-', so never '.', '..' or an option.
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const LVM_CHARSET = /^[A-Za-z0-9._+-]+$/;
// Suffixes lvm2 keeps for the hidden sub-volumes of RAID, mirror, cache,
// thin, VDO and integrity volumes (lib/misc/lvm-string.c); an LV name may not contain them.
const LVM_RESERVED_PARTS = [
  '_cdata', '_cmeta', '_corig', '_cpool', '_cvol', '_wcorig', '_imeta', '_iorig', '_mimage', '_mlog',
  '_pmspare', '_rimage', '_rmeta', '_tdata', '_tmeta', '_vdata', '_vorigin', '_vdo',
];
const LVM_RESERVED_PREFIXES = ['snapshot', 'pvmove'];

function bytes(value: string): number {
  return Buffer.byteLength(value, 'utf8');
}

/**
 * Throws unless `value` is one file name the library may create: letters,
 * digits and `_.-`, not starting with `.` or `-`, at most 255 bytes. Used for
 * base files, cache folders, lock names, instance uuids and disk names.
 *
 * @example
 * ```ts
 * checkFileName('disk.eph0', 'diskName'); // ok
 * checkFileName('../etc', 'diskName');    // InvalidArgumentError: Expected a file name ... for diskName but received '../etc'
 * ```
 */
export function checkFileName(value: unknown, argument: string, what = 'a file name of letters, digits and _.-'): asserts value is string {
  if (typeof value !== 'string' || !FILE_NAME.test(value)) throw invalidArgument(what, argument, value);
  if (bytes(value) > MAX_FILE_NAME_BYTES) throw invalidArgument(`${what} of at most ${MAX_FILE_NAME_BYTES} bytes`, argument, value);
}

/**
 * Throws unless `value` is a folder path to work in (`instancesPath`,
 * `lockPath`): a non-empty string; relative paths are resolved by the caller.
 *
 * @example
 * ```ts
 * checkFolderPath('/var/lib/nova/instances', 'instancesPath'); // ok
 * checkFolderPath('', 'instancesPath'); // InvalidArgumentError: Expected a folder path for instancesPath but received ''
 * ```
 */
export function checkFolderPath(value: unknown, argument: string): asserts value is string {
  if (typeof value !== 'string' || value === '') throw invalidArgument('a folder path', argument, value);
}

/**
 * Why `value` is not an RBD name Ceph and its tools take, or undefined when
 * it is (what {@link checkRbdName} refuses, as words).
 *
 * @example
 * ```ts
 * rbdNameProblem('a/b');       // "contains '/'"
 * rbdNameProblem('uuid_disk'); // undefined
 * ```
 */
export function rbdNameProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return 'empty';
  if (value === '.' || value === '..') return 'is . or ..';
  if (value.startsWith('-')) return 'starts with a hyphen';
  // '/' and '@' separate pool, namespace, image and snapshot in every spec (`pool/ns/image@snap`).
  if (value.includes('/')) return "contains '/'";
  if (value.includes('@')) return "contains '@'";
  // NUL ends the C string librbd sees; control characters and white space
  // would break the libvirt XML and qemu's rbd: file names.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\s]/u.test(value)) return 'contains a control or white-space character';
  if (bytes(value) > MAX_RBD_NAME_BYTES) return `longer than ${MAX_RBD_NAME_BYTES} bytes`;
  return undefined;
}

/**
 * Throws unless `value` is an RBD image, snapshot or pool name Ceph accepts
 * and that survives `pool/image@snap` specs and libvirt XML: not empty, not
 * `.`/`..`, no leading `-`, no `/`, `@`, NUL, control or white-space
 * characters, at most {@link MAX_RBD_NAME_BYTES} bytes.
 *
 * @example
 * ```ts
 * checkRbdName('0f6c1d2e_disk', 'image'); // '0f6c1d2e_disk'
 * checkRbdName('vms/disk', 'image');     // InvalidArgumentError: Expected an RBD name (this one contains '/') ...
 * ```
 */
export function checkRbdName(value: unknown, argument: string, what = 'an RBD name'): string {
  const problem = rbdNameProblem(value);
  if (problem) throw invalidArgument(`${what} (this one ${problem})`, argument, value);
  return value as string;
}

function lvmNameProblem(value: unknown, max = MAX_LVM_NAME_BYTES): string | undefined {
  if (typeof value !== 'string' || value === '') return 'empty';
  if (value.length > max) return `longer than ${max} characters`;
  if (value.startsWith('-')) return 'starts with a hyphen';
  if (value === '.' || value === '..') return 'is . or ..';
  if (!LVM_CHARSET.test(value)) return 'has characters other than A-Z a-z 0-9 . _ + -';
  return undefined;
}

/**
 * Throws unless `value` is a volume group name lvm2 accepts
 * (lib/misc/lvm-string.c `validate_name`).
 *
 * @example
 * ```ts
 * checkVolumeGroupName('nova-vg'); // ok
 * checkVolumeGroupName('bad name'); // throws
 * ```
 */
export function checkVolumeGroupName(value: unknown, argument = 'volumeGroup'): asserts value is string {
  const problem = lvmNameProblem(value);
  if (problem) throw invalidArgument(`an lvm2 volume group name (this one ${problem})`, argument, value);
}

/**
 * Throws unless `value` is a logical volume name lvm2 accepts: a valid name
 * that neither starts with `snapshot`/`pvmove` nor contains a reserved
 * sub-volume suffix such as `_tdata` (`apply_lvname_restrictions`).
 *
 * @example
 * ```ts
 * checkLogicalVolumeName('0f6c1d2e-..._disk');
 * ```
 */
export function checkLogicalVolumeName(value: unknown, argument = 'logicalVolume'): asserts value is string {
  let problem = lvmNameProblem(value, MAX_LVM_PAIR_CHARS - 1);
  const text = value as string;
  if (!problem && LVM_RESERVED_PREFIXES.some((p) => text.startsWith(p))) problem = 'starts with a reserved prefix';
  if (!problem) {
    const part = LVM_RESERVED_PARTS.find((p) => text.includes(p));
    if (part) problem = `contains the reserved part ${part}`;
  }
  if (problem) throw invalidArgument(`an lvm2 logical volume name (this one ${problem})`, argument, value);
}

/**
 * Throws `INVALID_ARGUMENT` unless lvm2 accepts this logical volume in this
 * group: each name valid, and together at most {@link MAX_LVM_PAIR_CHARS}
 * characters (lvm2 refuses a longer `<vg>/<lv>` pair even when each name
 * alone is valid).
 *
 * @example
 * ```ts
 * checkVolumeNames('nova-vg', '0f6c1d2e-..._disk');
 * ```
 */
export function checkVolumeNames(volumeGroup: unknown, logicalVolume: unknown, argument = 'logicalVolume'): void {
  checkVolumeGroupName(volumeGroup, argument === 'logicalVolume' ? 'volumeGroup' : argument);
  checkLogicalVolumeName(logicalVolume, argument);
  const pair = volumeGroup.length + logicalVolume.length;
  if (pair > MAX_LVM_PAIR_CHARS) {
    throw invalidArgument(
      `an lvm2 logical volume name that with its volume group's has at most ${MAX_LVM_PAIR_CHARS} characters (these have ${pair})`,
      argument,
      logicalVolume,
    );
  }
}
