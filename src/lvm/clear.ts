/**
 * Wiping a volume before it is removed, at device speed: BLKZEROOUT for
 * `zero` and native random overwrites for `shred` (nova forked `dd` and
 * `shred`).
 */
import { readdir, readFile, stat } from 'node:fs/promises';

import { blockDeviceSize, overwriteRandom, zeroRange } from '../blockdev/index.js';
import { ImageBackendError, invalidArgument } from '../errors.js';
import type { ClearVolumeOptions, ClearVolumeResult } from './LvmDriver.js';

const MiB = 1 << 20;
// nova's `volume_clear = shred` runs `shred -n3`.
const DEFAULT_SHRED_PASSES = 3;

export function checkClearOptions(options: unknown): asserts options is ClearVolumeOptions {
  const o = options as ClearVolumeOptions | undefined;
  if (typeof o !== 'object' || o === null) throw invalidArgument('an options object', 'options', o);
  if (!['none', 'zero', 'shred'].includes(o.volumeClear)) throw invalidArgument("'none', 'zero' or 'shred'", 'volumeClear', o.volumeClear);
  const size = o.volumeClearSizeMiB ?? 0;
  if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument('a non-negative integer', 'volumeClearSizeMiB', size);
  const passes = o.shredPasses ?? DEFAULT_SHRED_PASSES;
  if (!Number.isSafeInteger(passes) || passes < 1 || passes > 35) throw invalidArgument('an integer from 1 to 35', 'shredPasses', passes);
}

/**
 * What wiping `path` must overwrite. A sparse volume (nova's snapshot of the
 * zero target) holds its data only in its copy-on-write store, a device-mapper
 * device `<vg>-<lv>-cow` under the snapshot: that store is wiped, as writing
 * the whole virtual size through the snapshot would allocate a chunk for each
 * block never written and overflow the store (EIO, the volume left behind).
 * Anything else is wiped as it is.
 *
 * @example
 * ```ts
 * await wipeTarget('/dev/nova-vg/uuid_disk'); // '/dev/dm-7' for a sparse volume
 * ```
 */
export async function wipeTarget(path: string): Promise<string> {
  // By device number: without udev, /dev/<vg>/<lv> leads to a node in
  // /dev/mapper, not to /dev/dm-N.
  let sysfs: string;
  let slaves: string[];
  try {
    const { rdev } = await stat(path);
    const major = ((rdev >>> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
    const minor = (rdev & 0xff) | ((rdev >>> 12) & ~0xff & 0xfffff);
    sysfs = `/sys/dev/block/${major}:${minor}`;
    slaves = await readdir(`${sysfs}/slaves`);
  } catch {
    return path;
  }
  for (const slave of slaves) {
    const name = (await readFile(`/sys/block/${slave}/dm/name`, 'utf8').catch(() => '')).trim();
    if (!name.endsWith('-cow')) continue;
    const mapper = `/dev/mapper/${name}`;
    return (await stat(mapper).then((s) => s.isBlockDevice(), () => false)) ? mapper : `/dev/${slave}`;
  }
  return path;
}

/**
 * Clears `path` per `volumeClear`. The length is `volumeClearSizeMiB` capped
 * at the device size (0: all of it); a missing device is ignored. A sparse
 * volume's copy-on-write store is cleared instead of its virtual extent
 * (see {@link wipeTarget}); `volumeClearSizeMiB` then counts from the store's start.
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
    path = await wipeTarget(path);
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
  const passes = options.shredPasses ?? DEFAULT_SHRED_PASSES;
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
