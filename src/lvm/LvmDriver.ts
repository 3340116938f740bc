/**
 * What the LVM image backend needs from lvm2, as one interface: the real
 * {@link Lvm2Driver} runs it over the `lvm` command or liblvm2cmd; tests of
 * the backend can inject a fake.
 */

/** How a volume is wiped before it is removed (nova: `[libvirt] volume_clear`). */
export type VolumeClear = 'none' | 'zero' | 'shred';

/** How {@link LvmDriver.clearVolume} wipes a volume (nova's `[libvirt] volume_clear` and `volume_clear_size`). */
export interface ClearVolumeOptions {
  /** `none`: leave the data; `zero`: BLKZEROOUT (or zero writes); `shred`: random data. */
  volumeClear: VolumeClear;
  /** Clear only the first this many MiB; 0 (default) clears the whole volume (nova: `volume_clear_size`). */
  volumeClearSizeMiB?: number;
  /** Random passes for `shred`, 1 to 35; default 3, as nova's `shred -n3`. */
  shredPasses?: number;
  /** (bytes done, bytes to do), increasing, ending with (total, total). */
  onProgress?: (done: number, total: number) => void;
  /** Stops between chunks; rejects with code `ABORTED`. */
  signal?: AbortSignal;
}

/** What {@link LvmDriver.clearVolume} did. */
export interface ClearVolumeResult {
  /** Bytes overwritten (for shred: per pass). */
  bytes: number;
  /** The volume did not exist; nothing was done (nova logs and ignores this). */
  missing: boolean;
}

/** Options of {@link LvmDriver.createVolume}. */
export interface CreateVolumeOptions {
  /**
   * A sparse volume (nova: `sparse_logical_volumes`): `size` is its virtual
   * size, and only 64 MiB are allocated up front, as a snapshot of lvm2's
   * zero target. Needs device-mapper.
   */
  sparse?: boolean;
}

/** The logical volume {@link LvmDriver.createVolume} made. */
export interface CreatedVolume {
  /** `/dev/<vg>/<lv>`. */
  path: string;
  /** The volume group it was made in. */
  volumeGroup: string;
  /** The logical volume's name. */
  logicalVolume: string;
  /** The size made: the requested size rounded up to whole extents. */
  size: number;
}

/** A volume group's capacity, from `vgs` (nova's `get_volume_group_info`). */
export interface VolumeGroupInfo {
  /** The volume group's name. */
  name: string;
  /** Bytes. */
  total: number;
  /** Bytes not allocated to any logical volume. */
  free: number;
  /** Bytes allocated to logical volumes (`total - free`). */
  used: number;
  /** Bytes per physical extent: volume sizes are rounded up to a multiple of it. */
  extentSize: number;
}

/** One logical volume as `lvs` reports it (nova's `volume_info`). */
export interface VolumeInfo {
  /** `/dev/<vg>/<lv>` (lvm2's `lv_path`). */
  path: string;
  /** The volume group it is in. */
  volumeGroup: string;
  /** The logical volume's name. */
  logicalVolume: string;
  /** Bytes, from the metadata (the device size is {@link LvmDriver.getVolumeSize}). */
  size: number;
  /** lvm2's attribute string, e.g. `-wi-a-----`. */
  attr: string;
  /** lvm2's UUID of the volume (`lv_uuid`), not an instance UUID. */
  uuid: string;
  /** Every lv_* and vg_* field lvm2 reported, as reported (nova's `volume_info` dict). */
  fields: Readonly<Record<string, string>>;
}

/** Options of {@link LvmDriver.removeVolumes}. */
export interface RemoveVolumesOptions {
  /** Clear each volume before removing it (nova's `remove_volumes` does, per `volume_clear`). */
  clear?: ClearVolumeOptions;
}

/** The lvm2 operations the Lvm backend and the provisioning functions use; {@link Lvm2Driver} implements them, tests can inject a fake. */
export interface LvmDriver {
  /** `'activation'` with device-mapper, `'no-activation'` when lvm2 runs with `global/activation=0`. */
  mode(): Promise<'activation' | 'no-activation'>;
  /** Creates logical volume `logicalVolume` of at least `size` bytes (rounded up to whole extents) in `volumeGroup`. */
  createVolume(volumeGroup: string, logicalVolume: string, size: number, options?: CreateVolumeOptions): Promise<CreatedVolume>;
  /** Removes the volumes at `paths` (`lvremove -f`), clearing each first when asked; rejects with {@link VolumesNotRemovedError} listing those that failed. */
  removeVolumes(paths: readonly string[], options?: RemoveVolumesOptions): Promise<void>;
  /** Names of the group's logical volumes (nova's `list_volumes`). */
  listVolumes(volumeGroup: string): Promise<string[]>;
  /** What lvm2 reports about the volume at `path` (`/dev/<vg>/<lv>` or `<vg>/<lv>`). */
  volumeInfo(path: string): Promise<VolumeInfo>;
  /** The size in bytes of the volume's device (BLKGETSIZE64). */
  getVolumeSize(path: string): Promise<number>;
  /** Wipes the volume per `options.volumeClear`; a missing volume resolves with `missing: true`. */
  clearVolume(path: string, options: ClearVolumeOptions): Promise<ClearVolumeResult>;
  /** Total, free and used bytes and the extent size of a volume group. */
  vgInfo(volumeGroup: string): Promise<VolumeGroupInfo>;
  /** Closes the runner ({@link LvmRunner.close}); with liblvm2cmd, commands made after it are refused. */
  close(): Promise<void>;
}
