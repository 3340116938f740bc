/**
 * Which base files the disks on this host use, found the way nova's image
 * cache manager finds them (`_list_backing_images`): by reading the disks in
 * the instances folder, not by trusting a caller's list. Each instance
 * folder's files and the disks its disk.info names are inspected natively;
 * a backing file in the cache folder is in use, and so is whatever that base
 * is backed by in turn (a legacy qcow2 resized copy backed by its original).
 */
import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

import { ImageBackendError } from '../errors.js';
import { errnoName } from '../fsutil/errno.js';
import type { ImageInfo } from '../image/inspect.js';

/** Reads an image header (the library's native `inspect`). */
export type HeaderInspector = (path: string) => Promise<ImageInfo>;

/** What a scan of the instances folder found. */
export interface InstanceScan {
  /** Names in the cache folder that some disk uses as its backing file (directly or down a chain). */
  inUse: Set<string>;
  /** Disks that could not be read: while any exist, nothing can be judged unused. */
  problems: Array<{
    /** The file that could not be read. */
    path: string;
    /** Why. */
    error: unknown;
  }>;
}

// Folders of the instances path that hold no instance disks.
const NOT_INSTANCES = new Set(['locks', 'snapshots']);

/**
 * Scans `instancesPath` (every folder but the cache folder itself, `locks`
 * and `snapshots`) for disks backed by files in `baseDir`.
 *
 * @example
 * ```ts
 * const { inUse, problems } = await scanInstances('/var/lib/nova/instances', '/var/lib/nova/instances/_base', inspect);
 * ```
 */
export async function scanInstances(instancesPath: string, baseDir: string, inspector: HeaderInspector): Promise<InstanceScan> {
  const scan: InstanceScan = { inUse: new Set(), problems: [] };
  const realBase = await realpath(baseDir).catch(() => resolve(baseDir));
  const disks = new Set<string>();
  let entries: string[];
  try {
    entries = await readdir(instancesPath);
  } catch (error) {
    if (errnoName(error) !== 'ENOENT') scan.problems.push({ path: instancesPath, error });
    return scan;
  }
  for (const entry of entries) {
    const folder = join(instancesPath, entry);
    if (NOT_INSTANCES.has(entry) || resolve(folder) === resolve(baseDir)) continue;
    // stat, not lstat: an instance folder or disk reached through a symlink is still in use.
    const st = await stat(folder).catch(() => undefined);
    if (!st?.isDirectory()) continue;
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (error) {
      if (errnoName(error) !== 'ENOENT') scan.problems.push({ path: folder, error });
      continue;
    }
    for (const name of names) {
      if (name === 'disk.info') await readDiskInfo(join(folder, name), disks, scan);
      else disks.add(join(folder, name));
    }
  }
  const pending: string[] = [];
  for (const disk of disks) {
    const backing = await backingOf(disk, inspector, scan);
    if (backing) pending.push(backing);
  }
  // Follow each base down its own chain, staying inside the cache folder.
  while (pending.length > 0) {
    const backing = pending.pop() as string;
    const real = await realpath(backing).catch(() => resolve(backing));
    if (dirname(real) !== realBase) continue;
    const name = basename(real);
    if (scan.inUse.has(name)) continue;
    scan.inUse.add(name);
    const next = await backingOf(real, inspector, scan);
    if (next) pending.push(next);
  }
  return scan;
}

/** The disks a disk.info names; a disk.info that cannot be read is a problem (its disks are unknown). */
async function readDiskInfo(path: string, disks: Set<string>, scan: InstanceScan): Promise<void> {
  try {
    const st = await lstat(path);
    if (!st.isFile()) return;
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('disk.info is not a JSON object');
    for (const disk of Object.keys(parsed)) if (isAbsolute(disk)) disks.add(disk);
  } catch (error) {
    if (errnoName(error) !== 'ENOENT') scan.problems.push({ path, error });
  }
}

/**
 * The backing file a regular file's header names, resolved; undefined for
 * anything that is not a regular file, has no backing file, or is not an
 * image the inspector can read (console logs, libvirt XML).
 */
async function backingOf(path: string, inspector: HeaderInspector, scan: InstanceScan): Promise<string | undefined> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) return undefined;
  try {
    const info = await inspector(path);
    return info.fullBackingFile;
  } catch (error) {
    // A file that is not a valid image of any format is not a disk with a backing file.
    if (error instanceof ImageBackendError && (error.code === 'IMAGE_INVALID' || error.code === 'DISK_NOT_FOUND')) return undefined;
    scan.problems.push({ path, error });
    return undefined;
  }
}
