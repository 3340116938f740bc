/**
 * imagebackend: disk-image backends for libvirt/KVM compute agents.
 *
 * @packageDocumentation
 */
export * from './errors.js';
export { RbdCluster, type RbdConnectOptions, type RbdClusterStats } from './rbd/RbdCluster.js';
export { RbdPool } from './rbd/RbdPool.js';
export {
  RbdImage,
  type RbdLayout,
  type RbdImageStat,
  type RbdParentInfo,
  type RbdSnapshotInfo,
  type RbdTransferOptions,
  type RbdTransferResult,
} from './rbd/RbdImage.js';
export {
  RbdDriver,
  RESIZE_SNAPSHOT_NAME,
  type RbdDriverOptions,
  type ImageLocation,
  type ImageMeta,
  type CleanupReport,
} from './rbd/RbdDriver.js';
export { parseRbdUrl, type RbdLocation } from './rbd/url.js';
export { parseMonMap, splitAddr, type MonitorAddress } from './rbd/monmap.js';

import { RbdCluster } from './rbd/RbdCluster.js';
/** Short alias from the design sketch: `await Rbd.connect({...})`. */
export const Rbd = { connect: RbdCluster.connect.bind(RbdCluster) };
export * from './lvm/index.js';
