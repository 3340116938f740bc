/**
 * What the LVM image backend needs from lvm2, as one interface: the real
 * {@link Lvm2Driver} runs it over the `lvm` command or liblvm2cmd; tests of
 * the backend can inject a fake.
 */

/** How a volume is wiped before it is removed (nova: `[libvirt] volume_clear`). */
export type VolumeClear = 'none' | 'zero' | 'shred';

export interface ClearVolumeOptions {
  /** `none`: leave the data; `zero`: BLKZEROOUT (or zero writes); `shred`: random data. */
  volumeClear: VolumeClear;
  /** Clear only the first this many MiB; 0 (default) clears the whole volume (nova: `volume_clear_size`). */
  volumeClearSizeMiB?: number;
  /** Random passes for `shred`; default 1 (nova ran `shred -n3`; one pass defeats reading the data back). */
  shredPasses?: number;
  /** (bytes done, bytes to do), increasing, ending with (total, total). */
  onProgress?: (done: number, total: number) => void;
  /** Stops between chunks; rejects with code `ABORTED`. */
  signal?: AbortSignal;
}

export interface ClearVolumeResult {
  /** Bytes overwritten (for shred: per pass). */
  bytes: number;
  /** The volume did not exist; nothing was done (nova logs and ignores this). */
  missing: boolean;
}

export interface CreateVolumeOptions {
  /**
   * A sparse volume (nova: `sparse_logical_volumes`): `size` is its virtual
   * size, and only 64 MiB are allocated up front, as a snapshot of lvm2's
   * zero target. Needs device-mapper.
   */
  sparse?: boolean;
}

export interface CreatedVolume {
  /** `/dev/<vg>/<lv>`. */
  path: string;
  volumeGroup: string;
  logicalVolume: string;
  /** The size made: the requested size rounded up to whole extents. */
  size: number;
}

export interface VolumeGroupInfo {
  name: string;
  /** Bytes. */
  total: number;
  free: number;
  used: number;
  extentSize: number;
}

export interface VolumeInfo {
  path: string;
  volumeGroup: string;
  logicalVolume: string;
  /** Bytes, from the metadata (the device size is {@link LvmDriver.getVolumeSize}). */
  size: number;
  /** lvm2's attribute string, e.g. `-wi-a-----`. */
  attr: string;
  uuid: string;
  /** Every lv_* and vg_* field lvm2 reported, as reported (nova's `volume_info` dict). */
  fields: Readonly<Record<string, string>>;
}

export interface RemoveVolumesOptions {
  /** Clear each volume before removing it (nova's `remove_volumes` does, per `volume_clear`). */
  clear?: ClearVolumeOptions;
}

export interface LvmDriver {
  /** `'activation'` with device-mapper, `'no-activation'` when lvm2 runs with `global/activation=0`. */
  mode(): Promise<'activation' | 'no-activation'>;
  createVolume(volumeGroup: string, logicalVolume: string, size: number, options?: CreateVolumeOptions): Promise<CreatedVolume>;
  removeVolumes(paths: readonly string[], options?: RemoveVolumesOptions): Promise<void>;
  listVolumes(volumeGroup: string): Promise<string[]>;
  volumeInfo(path: string): Promise<VolumeInfo>;
  getVolumeSize(path: string): Promise<number>;
  clearVolume(path: string, options: ClearVolumeOptions): Promise<ClearVolumeResult>;
  vgInfo(volumeGroup: string): Promise<VolumeGroupInfo>;
  close(): Promise<void>;
}
