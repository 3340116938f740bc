/**
 * Wiping a volume before it is removed, at device speed: BLKZEROOUT for
 * `zero` and native random overwrites for `shred` (nova forked `dd` and
 * `shred`).
 */
import { blockDeviceSize, overwriteRandom, zeroRange } from '../blockdev/index.js';
import { ImageBackendError, invalidArgument } from '../errors.js';
import type { ClearVolumeOptions, ClearVolumeResult } from './LvmDriver.js';

const MiB = 1 << 20;

export function checkClearOptions(options: unknown): asserts options is ClearVolumeOptions {
  const o = options as ClearVolumeOptions | undefined;
  if (typeof o !== 'object' || o === null) throw invalidArgument('an options object', 'options', o);
  if (!['none', 'zero', 'shred'].includes(o.volumeClear)) throw invalidArgument("'none', 'zero' or 'shred'", 'volumeClear', o.volumeClear);
  const size = o.volumeClearSizeMiB ?? 0;
  if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument('a non-negative integer', 'volumeClearSizeMiB', size);
  const passes = o.shredPasses ?? 1;
  if (!Number.isSafeInteger(passes) || passes < 1 || passes > 35) throw invalidArgument('an integer from 1 to 35', 'shredPasses', passes);
}

/**
 * Clears `path` per `volumeClear`. The length is `volumeClearSizeMiB` capped
 * at the device size (0: all of it); a missing device is ignored.
 *
 * @example
 * ```ts
 * await clearVolumeData('/dev/vg0/uuid_disk', { volumeClear: 'zero', onProgress: (d, t) => log(d / t) });
 * ```
 */
export async function clearVolumeData(path: string, options: ClearVolumeOptions): Promise<ClearVolumeResult> {
  checkClearOptions(options);
  if (options.volumeClear === 'none') return { bytes: 0, missing: false };
  let size: number;
  try {
    size = await blockDeviceSize(path);
  } catch (error) {
    if (error instanceof ImageBackendError && error.code === 'DISK_NOT_FOUND') return { bytes: 0, missing: true };
    throw error;
  }
  const limit = (options.volumeClearSizeMiB ?? 0) * MiB;
  const length = limit > 0 && limit < size ? limit : size;
  const { onProgress, signal } = options;
  if (options.volumeClear === 'zero') {
    const bytes = await zeroRange(path, { offset: 0, length, onProgress, signal });
    return { bytes, missing: false };
  }
  const passes = options.shredPasses ?? 1;
  const total = passes * length;
  let bytes = 0;
  for (let pass = 0; pass < passes; pass++) {
    const base = pass * length;
    bytes = await overwriteRandom(path, {
      offset: 0,
      length,
      signal,
      onProgress: onProgress ? (done) => onProgress(base + done, total) : undefined,
    });
  }
  return { bytes, missing: false };
}
