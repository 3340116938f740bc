import { withAbortHandle } from '../abort.js';
import { native } from '../native.js';
import { callNative } from '../fromNative.js';
import { CopyFailedError } from '../errors.js';
import { checkByteCount, checkFunction, checkPath } from './validate.js';

/** Options of {@link copyRawData}. */
export interface CopyRawOptions {
  /**
   * `'create'` (default): `dst` must not exist; it is created and removed again
   * if the copy fails or is aborted. `'existing'`: `dst` is an existing file
   * (truncated to the source size) or block device (at least the source size);
   * it is never removed.
   */
  dstMode?: 'create' | 'existing';
  /** Skip holes and all-zero chunks (default true); false writes every byte. */
  sparse?: boolean;
  /**
   * File to file: try FICLONE (`'auto'`, default), require it (`'always'`,
   * fails where the filesystem cannot clone), or never try it (`'never'`).
   */
  reflink?: 'auto' | 'always' | 'never';
  /** Bytes per read/write, a multiple of 512 up to 64 MiB; default 4 MiB. */
  chunkSize?: number;
  /** Called with (bytes done, total), increasing; (total, total) before the promise resolves. */
  onProgress?: (done: number, total: number) => void;
  /** Stops between chunks; rejects with code `ABORTED`. */
  signal?: AbortSignal;
}

/** What {@link copyRawData} did. */
export interface CopyRawResult {
  /** Size of the source in bytes. */
  size: number;
  /** Bytes written as data. */
  bytesCopied: number;
  /** Bytes of holes and zeros not written as data (left as holes or zeroed cheaply). */
  bytesSkipped: number;
  /** The copy was made with FICLONE: the files share their blocks. */
  reflinked: boolean;
}

/**
 * Copies the raw bytes of a file or block device to a new file, an existing
 * file or a block device, keeping holes as holes where it can. A failed or
 * aborted copy into a created file removes that file.
 *
 * @example
 * ```ts
 * const ac = new AbortController();
 * const r = await copyRawData('/var/lib/nova/instances/_base/abc', '/dev/vg0/uuid_disk', {
 *   dstMode: 'existing', signal: ac.signal, onProgress: (done, total) => console.log(done / total),
 * });
 * console.log(r.bytesCopied, r.bytesSkipped);
 * ```
 */
export async function copyRawData(src: string, dst: string, options: CopyRawOptions = {}): Promise<CopyRawResult> {
  checkPath('src', src);
  checkPath('dst', dst);
  checkByteCount('chunkSize', options.chunkSize);
  checkFunction('onProgress', options.onProgress);
  const { signal, onProgress, ...rest } = options;
  const result = await callNative({ domain: 'blockdev', operation: 'copyRawData', otherwise: CopyFailedError }, () =>
    withAbortHandle(signal, 'copyRawData', (abort) => native().copyRaw(src, dst, { ...rest, onProgress, abort })),
  );
  return result;
}
