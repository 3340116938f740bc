import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors.js';

/**
 * The base file name of an image in the cache: the SHA-1 hex digest of the
 * image id, as nova's `imagecache.get_cache_fname` computes it, so a cache
 * folder shared with (or inherited from) nova is understood.
 *
 * @example
 * ```ts
 * cacheFileName('155d900f-4e14-4e4c-a73d-069cbf4541e6'); // 40 hex digits
 * ```
 */
export function cacheFileName(imageId: string): string {
  if (typeof imageId !== 'string' || imageId === '') throw invalidArgument('an image id', 'imageId', imageId);
  return createHash('sha1').update(imageId, 'utf8').digest('hex');
}
