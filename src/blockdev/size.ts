import { native } from '../native.js';
import { callNative } from '../fromNative.js';
import { checkPath } from './validate.js';

/**
 * The size in bytes of a block device (BLKGETSIZE64) or a regular file (st_size).
 * Rejects with `DISK_NOT_FOUND` when the path does not exist.
 *
 * @example
 * ```ts
 * const bytes = await blockDeviceSize('/dev/vg0/instance_disk');
 * ```
 */
export async function blockDeviceSize(path: string): Promise<number> {
  checkPath('path', path);
  return callNative({ domain: 'blockdev', operation: 'blockDeviceSize' }, () => native().blockdevSize(path));
}
