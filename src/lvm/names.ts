/**
 * Names as lvm2 accepts them (lib/misc/lvm-string.c: `validate_name`,
 * `apply_lvname_restrictions`), nova's volume naming, and /dev paths.
 */
import { invalidArgument } from '../errors.js';

// lvm2's NAME_LEN is 128 including the terminating NUL: a volume group name
// has at most 127 characters. A logical volume's limit is on the pair: lvm2
// (2.03.16, checked with lvcreate on a loop device) refuses an LV whose
// "<vg>/<lv>" name plus two more characters reaches NAME_LEN ("Internal
// error: LV name ... length N is not supported"), i.e. it needs
// len(vg) + len(lv) <= 124; with the shortest group (1 character) an LV name
// has at most 123.
const MAX_NAME = 127;
const MAX_PAIR = 124;
const MAX_LV_NAME = MAX_PAIR - 1;
const CHARSET = /^[A-Za-z0-9._+-]+$/;
// Suffixes lvm2 keeps for the hidden sub-volumes of RAID, mirror, cache,
// thin, VDO and integrity volumes; an LV name may not contain them.
const RESERVED_PARTS = [
  '_cdata', '_cmeta', '_corig', '_cpool', '_cvol', '_wcorig', '_imeta', '_iorig', '_mimage', '_mlog',
  '_pmspare', '_rimage', '_rmeta', '_tdata', '_tmeta', '_vdata', '_vorigin', '_vdo',
];
const RESERVED_PREFIXES = ['snapshot', 'pvmove'];

function nameProblem(name: unknown, max = MAX_NAME): string | undefined {
  if (typeof name !== 'string' || name === '') return 'empty';
  if (name.length > max) return `longer than ${max} characters`;
  if (name.startsWith('-')) return 'starts with a hyphen';
  if (name === '.' || name === '..') return 'is . or ..';
  if (!CHARSET.test(name)) return 'has characters other than A-Z a-z 0-9 . _ + -';
  return undefined;
}

/**
 * Throws `INVALID_ARGUMENT` unless `name` is a volume group name lvm2 accepts.
 *
 * @example
 * ```ts
 * checkVolumeGroupName('nova-vg'); // ok
 * checkVolumeGroupName('bad name'); // throws
 * ```
 */
export function checkVolumeGroupName(name: unknown, argument = 'volumeGroup'): asserts name is string {
  const problem = nameProblem(name);
  if (problem) throw invalidArgument(`an lvm2 volume group name (this one ${problem})`, argument, name);
}

/**
 * Throws `INVALID_ARGUMENT` unless `name` is a logical volume name lvm2
 * accepts: a valid name that neither starts with `snapshot`/`pvmove` nor
 * contains a reserved sub-volume suffix such as `_tdata`.
 *
 * @example
 * ```ts
 * checkLogicalVolumeName('0f6c1d2e-..._disk');
 * ```
 */
export function checkLogicalVolumeName(name: unknown, argument = 'logicalVolume'): asserts name is string {
  let problem = nameProblem(name, MAX_LV_NAME);
  const text = name as string;
  if (!problem && RESERVED_PREFIXES.some((p) => text.startsWith(p))) problem = 'starts with a reserved prefix';
  if (!problem) {
    const part = RESERVED_PARTS.find((p) => text.includes(p));
    if (part) problem = `contains the reserved part ${part}`;
  }
  if (problem) throw invalidArgument(`an lvm2 logical volume name (this one ${problem})`, argument, name);
}

/**
 * Throws `INVALID_ARGUMENT` unless lvm2 accepts this logical volume in this
 * group: each name valid, and together at most 124 characters (lvm2 refuses
 * a longer `<vg>/<lv>` pair even when each name alone is valid).
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
  if (pair > MAX_PAIR) {
    throw invalidArgument(
      `an lvm2 logical volume name that with its volume group's has at most ${MAX_PAIR} characters (these have ${pair})`,
      argument,
      logicalVolume,
    );
  }
}

/**
 * nova's `Lvm.escape`: every `_` of a disk name doubled, so that the
 * `<instance uuid>_` prefix of a volume name stays unambiguous.
 *
 * @example
 * ```ts
 * escapeDiskName('disk.eph_0'); // 'disk.eph__0'
 * ```
 */
export function escapeDiskName(diskName: string): string {
  return diskName.replaceAll('_', '__');
}

/**
 * The logical volume of an instance disk, `<instance uuid>_<escaped disk name>`,
 * validated.
 *
 * @example
 * ```ts
 * volumeName('0f6c1d2e-3b4a-4c5d-8e9f-001122334455', 'disk'); // '0f6c..._disk'
 * ```
 */
export function volumeName(instanceUuid: string, diskName: string): string {
  if (typeof diskName !== 'string' || diskName === '') throw invalidArgument('a non-empty string', 'diskName', diskName);
  const name = `${instanceUuid}_${escapeDiskName(diskName)}`;
  checkLogicalVolumeName(name, 'instance uuid and disk name');
  return name;
}

/**
 * `/dev/<vg>/<lv>`, the path lvm2 gives an active logical volume.
 *
 * @example
 * ```ts
 * volumePath('nova-vg', 'uuid_disk'); // '/dev/nova-vg/uuid_disk'
 * ```
 */
export function volumePath(volumeGroup: string, logicalVolume: string): string {
  checkVolumeNames(volumeGroup, logicalVolume);
  return `/dev/${volumeGroup}/${logicalVolume}`;
}

/**
 * The volume group and logical volume of `/dev/<vg>/<lv>` or `<vg>/<lv>`;
 * throws `INVALID_ARGUMENT` for anything else (lvm2 would otherwise treat an
 * unexpected argument as a device or a tag).
 *
 * @example
 * ```ts
 * parseVolumePath('/dev/nova-vg/uuid_disk'); // { volumeGroup: 'nova-vg', logicalVolume: 'uuid_disk' }
 * ```
 */
export function parseVolumePath(
  path: unknown,
  argument = 'path',
): {
  /** The volume group's name. */
  volumeGroup: string;
  /** The logical volume's name. */
  logicalVolume: string;
} {
  const match = typeof path === 'string' ? /^(?:\/dev\/)?([^/]+)\/([^/]+)$/.exec(path) : null;
  // /dev/mapper/<vg>-<lv> names a device-mapper device, not a group "mapper".
  if (!match || match[1] === 'mapper') throw invalidArgument('a logical volume path /dev/<vg>/<lv>', argument, path);
  const [, volumeGroup, logicalVolume] = match as unknown as [string, string, string];
  checkVolumeNames(volumeGroup, logicalVolume, argument);
  return { volumeGroup, logicalVolume };
}
