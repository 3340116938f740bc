// The lvm2 driver: volumes created, listed, described, wiped and removed over the `lvm` command or liblvm2cmd.
export type {
  ClearVolumeOptions,
  ClearVolumeResult,
  CreatedVolume,
  CreateVolumeOptions,
  LvmDriver,
  RemoveVolumesOptions,
  VolumeClear,
  VolumeGroupInfo,
  VolumeInfo,
} from './LvmDriver.js';
export type { LvmCommandResult, LvmRunner, LvmRunnerOptions } from './LvmRunner.js';
export { Lvm2Driver, SPARSE_PREALLOCATION, type Lvm2DriverOptions } from './Lvm2Driver.js';
export { LvmCliRunner, type LvmCliRunnerOptions } from './LvmCliRunner.js';
export { LvmLibRunner } from './LvmLibRunner.js';
export { hasDeviceMapper } from './config.js';
export { checkLogicalVolumeName, checkVolumeGroupName, checkVolumeNames, escapeDiskName, parseVolumePath, volumeName, volumePath } from './names.js';
export { createLvmDriver, resolveLvmOptions, type LvmOptions, type ResolvedLvmOptions } from './options.js';
export {
  baseImageSize,
  deleteVolumes,
  provisionFromBase,
  provisionGenerated,
  writeBase,
  type BaseImage,
  type LvmBaseInfo,
  type LvmQemuRunner,
  type ProvisionOptions,
  type ProvisionResult,
  type WriteBaseOptions,
} from './provision.js';
