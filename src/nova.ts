/**
 * `imagebackend/nova`: nova's `RBDDriver` (nova/storage/rbd_utils.py) under
 * nova's own names, for code that follows nova call for call. Its
 * `ImageLocation` is an image-service (Glance) location, `{ url, metadata }`;
 * the package root's `DiskLocation` is where an instance disk is. New code can
 * use the root's `RbdCluster`/`RbdPool`/`RbdImage` directly.
 *
 * @example
 * ```ts
 * import { RbdDriver, parseRbdUrl } from 'imagebackend/nova';
 *
 * await using driver = new RbdDriver({ pool: 'vms', cephConf: '/etc/ceph/ceph.conf', user: 'nova' });
 * if (await driver.isCloneable({ url }, { disk_format: 'raw' })) await driver.clone({ url }, 'uuid_disk');
 * ```
 *
 * @module nova
 */
export {
  RbdDriver,
  RESIZE_SNAPSHOT_NAME,
  type RbdDriverOptions,
  type ImageLocation,
  type ImageMeta,
  type CleanupReport,
} from './rbd/RbdDriver.js';
export { parseRbdUrl, type RbdLocation } from './rbd/url.js';
