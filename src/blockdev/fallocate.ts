import { native } from '../native.js';
import { callNative } from '../fromNative.js';
import { checkByteCount, checkPath } from './validate.js';

/** Options of {@link fallocateFile}. */
export interface FallocateOptions {
  /** Bytes to allocate from offset 0. */
  size: number;
  /**
   * Allocate without changing the file size (FALLOC_FL_KEEP_SIZE). nova's
   * `preallocate_images = space` runs `fallocate -n -l size`, i.e. true.
   */
  keepSize?: boolean;
}

/**
 * Preallocates the blocks of an existing file with fallocate(2), so later
 * writes cannot fail for lack of space.
 *
 * @example
 * ```ts
 * await fallocateFile('/var/lib/nova/instances/uuid/disk', { size: 20 * 2 ** 30, keepSize: true });
 * ```
 */
export async function fallocateFile(path: string, options: FallocateOptions): Promise<void> {
  checkPath('path', path);
  checkByteCount('size', options?.size, false);
  await callNative({ domain: 'blockdev', operation: 'fallocateFile' }, () =>
    native().blockdevFallocate(path, { size: options.size, keepSize: options.keepSize ?? false }),
  );
}
