/**
 * Clearing ranges of a disk: zeros (nova's `volume_clear = zero`), discard, and
 * one random pass (`volume_clear = shred`). Block devices take offsets and
 * lengths in multiples of 512; a length past the end is capped at the end.
 */
import { withAbortHandle } from '../abort.js';
import { native } from '../native.js';
import { callNative } from '../fromNative.js';
import { checkByteCount, checkFunction, checkPath } from './validate.js';

/** A byte range of a disk; the whole disk by default. */
export interface RangeOptions {
  /** First byte; default 0. */
  offset?: number;
  /** Bytes from `offset`; default (and cap): to the end of the disk. */
  length?: number;
}

/** Options of {@link zeroRange} and {@link overwriteRandom}. */
export interface WipeOptions extends RangeOptions {
  /** Called with (bytes done, bytes in the range), increasing; (total, total) before the promise resolves. */
  onProgress?: (done: number, total: number) => void;
  /** Stops between steps; the operation rejects with code `ABORTED`. */
  signal?: AbortSignal;
}

function checkRange(options: RangeOptions): void {
  checkByteCount('offset', options.offset);
  checkByteCount('length', options.length);
}

/**
 * Makes a range read as zeros: BLKZEROOUT on a block device, fallocate
 * ZERO_RANGE on a file, plain zero writes where those are unsupported.
 * Resolves with the number of bytes zeroed.
 *
 * @example
 * ```ts
 * await zeroRange('/dev/vg0/disk', { length: 100 * 2 ** 20, signal, onProgress: (d, t) => log(d / t) });
 * ```
 */
export async function zeroRange(path: string, options: WipeOptions = {}): Promise<number> {
  checkPath('path', path);
  checkRange(options);
  checkFunction('onProgress', options.onProgress);
  const { signal, onProgress, ...rest } = options;
  const out = await callNative({ domain: 'blockdev', operation: 'zeroRange' }, () =>
    withAbortHandle(signal, 'zeroRange', (abort) => native().blockdevZero(path, { ...rest, onProgress, abort })),
  );
  return out.bytes;
}

/**
 * Discards a range: BLKDISCARD on a block device (the blocks need not read
 * back as zeros), a punched hole on a file (reads back as zeros, size kept).
 * Resolves with the number of bytes discarded.
 *
 * @example
 * ```ts
 * await discardRange('/dev/loop3', { offset: 0, length: 2 ** 30 });
 * ```
 */
export async function discardRange(path: string, options: RangeOptions = {}): Promise<number> {
  checkPath('path', path);
  checkRange(options);
  const out = await callNative({ domain: 'blockdev', operation: 'discardRange' }, () =>
    native().blockdevDiscard(path, { offset: options.offset, length: options.length }),
  );
  return out.bytes;
}

/**
 * Overwrites a range with one pass of pseudo-random data, like `shred -n1`
 * (xoshiro256** seeded from getrandom; not cryptographic, only unreadable).
 * Resolves with the number of bytes written.
 *
 * @example
 * ```ts
 * await overwriteRandom('/dev/vg0/disk', { signal });
 * ```
 */
export async function overwriteRandom(path: string, options: WipeOptions = {}): Promise<number> {
  checkPath('path', path);
  checkRange(options);
  checkFunction('onProgress', options.onProgress);
  const { signal, onProgress, ...rest } = options;
  const out = await callNative({ domain: 'blockdev', operation: 'overwriteRandom' }, () =>
    withAbortHandle(signal, 'overwriteRandom', (abort) => native().blockdevOverwriteRandom(path, { ...rest, onProgress, abort })),
  );
  return out.bytes;
}
