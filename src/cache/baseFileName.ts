import { createHash } from 'node:crypto';

import { invalidArgument } from '../errors.js';

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
  /** A swap file's size in MiB (`swap_<MiB>`). */
  sizeMb?: number;
  /** An ephemeral file's size in GiB (`ephemeral_<GiB>_<hash7>`). */
  sizeGb?: number;
  /** An ephemeral file's 7-hex-digit file-system hash (see {@link ephemeralFileExtension}). */
  extension?: string;
}

const ORIGINAL = /^[0-9a-f]{40}$/;
const RESIZED = /^([0-9a-f]{40})_(sm|[0-9]+)$/;
const SWAP = /^swap_([0-9]+)$/;
const EPHEMERAL = /^ephemeral_([0-9]+)_([0-9a-f]{7})$/;

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
 * parseBaseFileName('ephemeral_20_0706d66'); // { kind: 'ephemeral', sizeGb: 20, extension: '0706d66' }
 * parseBaseFileName('notes.txt'); // undefined
 * ```
 */
export function parseBaseFileName(name: string): BaseFileName | undefined {
  if (ORIGINAL.test(name)) return { kind: 'original', fingerprint: name };
  const resized = RESIZED.exec(name);
  if (resized) return { kind: 'resized', fingerprint: resized[1] as string, suffix: resized[2] as string };
  const swap = SWAP.exec(name);
  if (swap) return { kind: 'swap', sizeMb: Number(swap[1]) };
  const ephemeral = EPHEMERAL.exec(name);
  if (ephemeral) return { kind: 'ephemeral', sizeGb: Number(ephemeral[1]), extension: ephemeral[2] as string };
  return undefined;
}

/**
 * nova's `get_file_extension_for_os_type`: the first 7 hex digits of the MD5
 * of what formats the ephemeral disk (the configured mkfs command for the
 * OS type if there is one, else the file system name: `default_ephemeral_format`,
 * else `ext4` for linux, `ntfs` for windows, `vfat` otherwise).
 *
 * @example
 * ```ts
 * ephemeralFileExtension('ext4'); // '40d1d2c', nova's extension for an ext4 ephemeral base
 * ```
 */
export function ephemeralFileExtension(fileSystemOrMkfsCommand: string): string {
  if (typeof fileSystemOrMkfsCommand !== 'string' || fileSystemOrMkfsCommand === '') {
    throw invalidArgument('a file system name or mkfs command', 'fileSystemOrMkfsCommand', fileSystemOrMkfsCommand);
  }
  return createHash('md5').update(fileSystemOrMkfsCommand, 'utf8').digest('hex').slice(0, 7);
}

/**
 * The base file name of a generated ephemeral disk, nova's
 * `"ephemeral_%s_%s" % (ephemeral_gb, file_extension)`; `extension` is a
 * 7-hex-digit {@link ephemeralFileExtension}, or a file system name (or
 * mkfs command) that is hashed into one.
 *
 * @example
 * ```ts
 * ephemeralFileName(20, 'ext4'); // 'ephemeral_20_40d1d2c'
 * ```
 */
export function ephemeralFileName(sizeGb: number, extension: string): string {
  if (!Number.isSafeInteger(sizeGb) || sizeGb < 0) throw invalidArgument('a non-negative integer of GiB', 'sizeGb', sizeGb);
  const hash = typeof extension === 'string' && /^[0-9a-f]{7}$/.test(extension) ? extension : ephemeralFileExtension(extension);
  return `ephemeral_${sizeGb}_${hash}`;
}

/**
 * The base file name of a generated swap disk, nova's `"swap_%s" % swap_mb`.
 *
 * @example
 * ```ts
 * swapFileName(512); // 'swap_512'
 * ```
 */
export function swapFileName(sizeMb: number): string {
  if (!Number.isSafeInteger(sizeMb) || sizeMb < 0) throw invalidArgument('a non-negative integer of MiB', 'sizeMb', sizeMb);
  return `swap_${sizeMb}`;
}
