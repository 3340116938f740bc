/**
 * Native qcow2 overlay creation: the equivalent of
 * `qemu-img create -f qcow2 -b BASE -F FMT PATH [SIZE]` without forking
 * qemu-img. The file is created exclusively and removed if writing fails.
 */
import { invalidArgument } from '../errors.js';
import { native } from '../native.js';
import { callNative } from '../fromNative.js';

/** Options of {@link createQcow2Overlay}: what `qemu-img create -f qcow2 -b` takes. */
export interface Qcow2OverlayOptions {
  /** The backing file as it will be recorded; relative names resolve against the overlay's directory. */
  backingFile: string;
  /** Recorded backing format; defaults to the format the backing file is inspected to be. */
  backingFormat?: string;
  /** Virtual size in bytes (rounded up to 512); defaults to the backing file's virtual size. */
  size?: number;
  /**
   * Power of two in 512..2 MiB. Default: the base's cluster size when the
   * base is qcow2 (what nova's `create_cow_image` does), else 64 KiB.
   */
  clusterSize?: number;
  /** qcow2's `extended_l2`: subcluster allocation (needs clusters of 16 KiB or more); default false. */
  extendedL2?: boolean;
}

/** What {@link createQcow2Overlay} created. */
export interface Qcow2OverlayResult {
  /** The overlay file, as `path` was given. */
  path: string;
  /** Its virtual size in bytes: the size asked for (or the backing file's), rounded up to 512. */
  size: number;
  /** The backing format recorded: the one given, or the one the backing file was inspected to be. */
  backingFormat: string;
}

/**
 * Creates a qcow2 v3 overlay at `path` on top of `opts.backingFile`.
 *
 * @example
 * ```ts
 * await createQcow2Overlay('/var/lib/nova/instances/uuid/disk', {
 *   backingFile: '/var/lib/nova/instances/_base/abc',
 *   backingFormat: 'raw',
 * });
 * ```
 * @throws {@link DiskNotFoundError} when the backing file is missing,
 *   {@link ImageIoError} (errnoName EEXIST) when `path` exists,
 *   {@link InvalidArgumentError} for options the format cannot encode.
 */
export async function createQcow2Overlay(path: string, opts: Qcow2OverlayOptions): Promise<Qcow2OverlayResult> {
  if (typeof path !== 'string' || path === '') throw invalidArgument('a non-empty string', 'path', path);
  if (typeof opts !== 'object' || opts === null) throw invalidArgument('an options object', 'options', opts);
  if (typeof opts.backingFile !== 'string' || opts.backingFile === '') {
    throw invalidArgument('a non-empty string', 'backingFile', opts.backingFile);
  }
  if (opts.size !== undefined && !(Number.isSafeInteger(opts.size) && opts.size >= 0)) {
    throw invalidArgument('a non-negative integer', 'size', opts.size);
  }
  const out = await callNative({ domain: 'image', operation: 'createQcow2Overlay', path }, () => native().qcow2CreateOverlay(path, opts));
  return { path: out.path, size: Number(out.size), backingFormat: out.backingFormat };
}
