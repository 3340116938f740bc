/** What a base file in the cache is, by nova's naming. */
export type BaseFileKind = 'original' | 'resized' | 'swap' | 'ephemeral';

/** A base file name, understood. */
export interface BaseFileName {
  /** Original download, resized copy, or generated swap or ephemeral disk. */
  kind: BaseFileKind;
  /** The SHA-1 of the image id (originals and resized copies). */
  fingerprint?: string;
  /**
   * A resized copy's suffix: its size (bytes in current nova, GiB in the
   * legacy qcow2 `<base>_<GiB>` backing files) or `sm` (pre-Folsom "small").
   */
  suffix?: string;
}

const ORIGINAL = /^[0-9a-f]{40}$/;
const RESIZED = /^([0-9a-f]{40})_(sm|[0-9]+)$/;
const SWAP = /^swap_[0-9]+$/;
const EPHEMERAL = /^ephemeral_[0-9]+_[0-9a-f]{7}$/;

/**
 * Classifies a file name of the cache folder the way nova's image cache
 * manager does: `<sha1>` is an original download, `<sha1>_<n>` and
 * `<sha1>_sm` are resized copies, `swap_<MiB>` and `ephemeral_<GiB>_<hash7>`
 * are generated disks. Anything else (partial downloads, info files, foreign
 * files) is not a base file and is never touched.
 *
 * @example
 * ```ts
 * parseBaseFileName('9e881789030568a317fad9daae82c5b1c65e0d4a_10'); // { kind: 'resized', fingerprint: '9e88…', suffix: '10' }
 * parseBaseFileName('notes.txt'); // undefined
 * ```
 */
export function parseBaseFileName(name: string): BaseFileName | undefined {
  if (ORIGINAL.test(name)) return { kind: 'original', fingerprint: name };
  const resized = RESIZED.exec(name);
  if (resized) return { kind: 'resized', fingerprint: resized[1] as string, suffix: resized[2] as string };
  if (SWAP.test(name)) return { kind: 'swap' };
  if (EPHEMERAL.test(name)) return { kind: 'ephemeral' };
  return undefined;
}
