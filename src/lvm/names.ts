/**
 * Names as lvm2 accepts them (lib/misc/lvm-string.c: `validate_name`,
 * `apply_lvname_restrictions`), nova's volume naming, and /dev paths.
 */
import { invalidArgument } from '../errors.js';
import { checkLogicalVolumeName, checkVolumeGroupName, checkVolumeNames } from '../names.js';

// The validators live with every other name check, in src/names.ts.
export { checkLogicalVolumeName, checkVolumeGroupName, checkVolumeNames };

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
