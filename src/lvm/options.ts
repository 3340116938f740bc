/**
 * The LVM configuration of the image backend (nova's `[libvirt]
 * images_volume_group`, `sparse_logical_volumes`, `volume_clear`,
 * `volume_clear_size`) and the driver it asks for.
 */
import { invalidArgument, LvmNotConfiguredError } from '../errors.js';
import { checkClearOptions } from './clear.js';
import { Lvm2Driver } from './Lvm2Driver.js';
import { LvmCliRunner, type LvmCliRunnerOptions } from './LvmCliRunner.js';
import { LvmLibRunner } from './LvmLibRunner.js';
import type { VolumeClear } from './LvmDriver.js';
import { checkVolumeGroupName } from './names.js';

/** The LVM settings of the image backend (nova's `[libvirt]` `images_volume_group`, `sparse_logical_volumes`, `volume_clear`, `volume_clear_size`) and how lvm2 is run; see {@link resolveLvmOptions} and {@link createLvmDriver}. */
export interface LvmOptions extends LvmCliRunnerOptions {
  /** The volume group instance disks live in (nova: `images_volume_group`); required for LVM images. */
  volumeGroup?: string;
  /** Sparse volumes (nova: `sparse_logical_volumes`); default false. */
  sparse?: boolean;
  /** Wipe on delete (nova: `volume_clear`); default `zero`. */
  volumeClear?: VolumeClear;
  /** MiB to wipe from the start, 0 for all (nova: `volume_clear_size`); default 0. */
  volumeClearSizeMiB?: number;
  /** `cli` (default): the `lvm` program; `lib`: liblvm2cmd in this process. */
  runner?: 'cli' | 'lib';
}

/** {@link LvmOptions} checked, with defaults. */
export interface ResolvedLvmOptions {
  /** The volume group instance disks live in (nova's `images_volume_group`), checked to be a valid lvm2 name. */
  volumeGroup: string;
  /** Whether disks are sparse volumes (nova's `sparse_logical_volumes`); default false. */
  sparse: boolean;
  /** How volumes are wiped before removal (nova's `volume_clear`): `none`, `zero` or `shred`; default `zero`. */
  volumeClear: VolumeClear;
  /** MiB wiped from the start of each volume, 0 for the whole volume (nova's `volume_clear_size`); default 0. */
  volumeClearSizeMiB: number;
}

/**
 * Checks the LVM options and fills the defaults; rejects a missing volume
 * group with `LVM_NOT_CONFIGURED` (nova: "You should specify
 * images_volume_group flag to use LVM images").
 *
 * @example
 * ```ts
 * const { volumeGroup, volumeClear } = resolveLvmOptions({ volumeGroup: 'nova-vg' });
 * ```
 */
export function resolveLvmOptions(options: LvmOptions | undefined): ResolvedLvmOptions {
  const volumeGroup = options?.volumeGroup;
  if (volumeGroup === undefined || volumeGroup === '') {
    throw new LvmNotConfiguredError('LVM images need a volume group: set lvm.volumeGroup (nova: images_volume_group)', {
      operation: 'resolveLvmOptions',
    });
  }
  checkVolumeGroupName(volumeGroup, 'lvm.volumeGroup');
  const sparse = options?.sparse ?? false;
  if (typeof sparse !== 'boolean') throw invalidArgument('a boolean', 'lvm.sparse', sparse);
  const clear = { volumeClear: options?.volumeClear ?? 'zero', volumeClearSizeMiB: options?.volumeClearSizeMiB ?? 0 };
  checkClearOptions(clear);
  return { volumeGroup, sparse, ...clear } as ResolvedLvmOptions;
}

/**
 * The driver the options ask for: over the `lvm` program or liblvm2cmd.
 *
 * @example
 * ```ts
 * const driver = createLvmDriver({ runner: 'lib', devices: ['/dev/sdb'] });
 * ```
 */
export function createLvmDriver(options: LvmOptions = {}): Lvm2Driver {
  const runner = options.runner ?? 'cli';
  if (runner === 'cli') return new Lvm2Driver(new LvmCliRunner(options));
  if (runner === 'lib') return new Lvm2Driver(new LvmLibRunner(options));
  throw invalidArgument("'cli' or 'lib'", 'runner', runner);
}
