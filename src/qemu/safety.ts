/**
 * What qemu-img may be allowed to open. An image header can name other files
 * (a backing file, also as a `json:` or protocol string; a qcow2 external data
 * file; VMDK extents), and qemu-img opens them and copies their bytes into
 * its output: an untrusted image could read `/etc/shadow` through
 * `qemu-img convert`. So a source is inspected natively first, and qemu-img
 * runs only when nothing in the header points elsewhere, or when the caller
 * names the one legitimate backing file, which qemu-img is then told to open
 * in place of whatever the header says (a `json:` source naming it).
 */
import { lstat } from 'node:fs/promises';
import { resolve } from 'node:path';

import { ImageUnsafeError, invalidArgument } from '../errors.js';
import type { ImageInfo } from '../image/inspect.js';

/** The backing file a caller vouches for: qemu-img opens exactly this file, in this format. */
export interface ExplicitBacking {
  /** The backing file's path (made absolute). */
  path: string;
  /** Its format, e.g. `raw` or `qcow2`; never probed. */
  format: string;
}

/** Reads an image header natively (the library's `inspect`, or a test's stand-in). */
export type Inspector = (path: string) => Promise<ImageInfo>;

// Formats whose qemu driver checks a binary magic number before it reads
// anything else: a file the inspector found no such header in is refused by
// qemu itself ("not in qcow2 format"), so letting qemu-img say so is safe.
// VMDK is not here: qemu also accepts a text descriptor naming extents.
const MAGIC_CHECKED = new Set(['qcow2', 'qed', 'vpc', 'vhdx', 'vdi', 'luks']);

// The inspector's reason for the image's own backing file (`backing file: '…'`,
// or a VHD/VHDX parent); anything else (data file, extents, unknown features,
// an ambiguous or chained header) is never accepted.
const OWN_BACKING = /^backing file: '/;

function unsafe(operation: string, path: string, reasons: string[]): ImageUnsafeError {
  return new ImageUnsafeError(`${operation}: image '${path}' is unsafe to open with qemu-img: ${reasons.join('; ')}`, {
    reasons,
    operation,
    path,
  });
}

/** How a source may be opened, once {@link checkSource} has judged it. */
export interface SourcePlan {
  /** Open the image with this backing file in place of the header's (convert only). */
  backing?: ExplicitBacking;
}

/**
 * Judges an untrusted local source before qemu-img opens it as `format`.
 * `raw` needs no inspection: qemu's raw driver reads the one file and nothing
 * it contains. Otherwise the header must be the declared format and safe;
 * `allowOwnBacking` (qemu-img info without the chain, which never opens the
 * backing file) tolerates a backing-file reference; `backing` replaces it
 * with the file the caller names. Throws `IMAGE_UNSAFE` listing every reason.
 */
export async function checkSource(
  operation: string,
  path: string,
  format: string,
  inspector: Inspector,
  options: { backing?: ExplicitBacking; allowOwnBacking?: boolean },
): Promise<SourcePlan> {
  if (format === 'raw') {
    if (options.backing) throw invalidArgument('no backing for a raw source', 'backing', options.backing.path);
    return {};
  }
  const info = await inspector(path);
  if (info.format !== format) {
    if (info.format === 'raw' && MAGIC_CHECKED.has(format)) return {}; // qemu-img refuses it by itself
    throw unsafe(operation, path, [`it is opened as ${format} but its header is ${info.format}`]);
  }
  const own = info.safety.reasons.filter((r) => OWN_BACKING.test(r));
  const other = info.safety.reasons.filter((r) => !OWN_BACKING.test(r));
  if (other.length > 0) throw unsafe(operation, path, info.safety.reasons);
  if (options.backing) {
    if (info.backingFile === undefined) {
      throw invalidArgument('a backing only for an image that has one', 'backing', options.backing.path);
    }
    return { backing: await checkBacking(operation, options.backing, inspector) };
  }
  if (own.length > 0 && !options.allowOwnBacking) {
    throw unsafe(operation, path, [...own, 'name the legitimate backing file with the `backing` option, or pass `trusted: true`']);
  }
  return {};
}

/** The caller's backing file must itself be a plain image: no references of its own. */
async function checkBacking(operation: string, backing: ExplicitBacking, inspector: Inspector): Promise<ExplicitBacking> {
  if (typeof backing.path !== 'string' || backing.path === '') throw invalidArgument('a non-empty string', 'backing.path', backing.path);
  const path = resolve(backing.path);
  const st = await lstat(path).catch(() => undefined);
  if (!st || !(st.isFile() || st.isBlockDevice())) throw invalidArgument('an existing file or block device', 'backing.path', path);
  if (backing.format === 'raw') return { path, format: 'raw' };
  const info = await inspector(path);
  if (info.format !== backing.format) throw unsafe(operation, path, [`the backing file is opened as ${backing.format} but its header is ${info.format}`]);
  if (!info.safety.safe) throw unsafe(operation, path, info.safety.reasons.map((r) => `backing file ${path}: ${r}`));
  return { path, format: backing.format };
}

/**
 * The `json:` source that opens `path` as `format` with `backing` as its
 * backing file, whatever the header names; a non-raw backing gets no backing
 * file of its own (`"backing": null`), even if one appeared in its header
 * after it was inspected. Built with JSON.stringify from absolute paths, so
 * nothing in a path can add an option.
 */
export async function sourceWithBacking(path: string, format: string, backing: ExplicitBacking): Promise<string> {
  const protocol = async (p: string) => ((await lstat(p)).isBlockDevice() ? 'host_device' : 'file');
  const backingNode: Record<string, unknown> = {
    driver: backing.format,
    file: { driver: await protocol(backing.path), filename: backing.path },
  };
  if (backing.format !== 'raw') backingNode.backing = null;
  return `json:${JSON.stringify({ driver: format, file: { driver: await protocol(path), filename: path }, backing: backingNode })}`;
}
