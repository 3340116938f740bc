/**
 * The file side of the file stores (raw, qcow2): where a disk file lives,
 * the folders and modes it is made with, and crash-safe creation. A new disk
 * is written under a temporary name and linked to its final name only when
 * complete, so a process killed half-way leaves at most a temporary file,
 * which no later call takes for a disk and the next creation of the same disk
 * sweeps once its writer is dead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmod, link, lstat, readdir, rm } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';

import { ImageBackendError, invalidArgument, ImageIoError } from '../errors.js';
import { fsyncDir, fsyncFile } from '../fsutil/atomic.js';
import { errnoName, messageOf, systemErrorDetails } from '../fsutil/errno.js';
import type { DiskLocation, InstanceRef } from './types.js';
import { makeFolders } from '../fsutil/makeFolders.js';

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/** NAME_MAX of Linux filesystems: a longer instance or disk name could never be created. */
const NAME_MAX = 255;
/** Modes of what the library creates, explicit so no process umask (lvm2's 077 included) changes them. */
export const FOLDER_MODE = 0o755;
/** Mode of disk files (as nova's and qemu-img's defaults under umask 022). */
export const FILE_MODE = 0o644;

/**
 * Checks a name that becomes one path component (an instance uuid, a disk
 * name): letters, digits and `_.-`, not starting with `.` or `-`, at most 255
 * characters. Throws `INVALID_ARGUMENT` before anything is created.
 */
export function checkFileName(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length > NAME_MAX || !NAME.test(value)) {
    throw invalidArgument(`a file name of letters, digits and _.- (at most ${NAME_MAX} characters)`, name, value);
  }
}

/**
 * The path of a disk in its instance folder: `<instancesPath>/<uuid>/<diskName>`
 * (nova's `get_instance_path` joined with the disk name).
 */
export function instanceDiskPath(instancesPath: string, instance: InstanceRef, diskName: string): string {
  checkFileName('instance.uuid', instance?.uuid);
  checkFileName('diskName', diskName);
  return join(instancesPath, instance.uuid, diskName);
}

/** The file of a file-backed disk: the path libvirt knows it by, or its place in the instance folder. */
export function fileDiskPath(instancesPath: string, location: DiskLocation): string {
  if ('path' in location) {
    if (typeof location.path !== 'string' || location.path === '' || location.path.includes('\0')) {
      throw invalidArgument('a disk path', 'path', location.path);
    }
    return resolve(location.path);
  }
  return instanceDiskPath(instancesPath, location.instance, location.diskName);
}

/** Whether something is at `path` (a dangling symlink counts). */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errnoName(error) === 'ENOENT') return false;
    throw new ImageIoError(`cannot check ${path}: ${messageOf(error)}`, systemErrorDetails(error, 'exists', path));
  }
}

/**
 * Creates `dir` (and missing parents) with mode 0755 whatever the umask; the
 * folders it did not create keep their modes.
 */
export async function ensureFolder(dir: string): Promise<void> {
  try {
    const first = await makeFolders(dir, FOLDER_MODE);
    if (first === undefined) return;
    // mkdir's mode passes through the umask: set it on each folder made here.
    const made = relative(first, dir);
    let current = first;
    await chmod(current, FOLDER_MODE);
    for (const part of made === '' ? [] : made.split(sep)) {
      current = join(current, part);
      await chmod(current, FOLDER_MODE);
    }
  } catch (error) {
    throw new ImageIoError(`cannot create ${dir}: ${messageOf(error)}`, systemErrorDetails(error, 'create', dir));
  }
}

/** `.<hash of the disk name>.part-`: the prefix of the temporary files of one disk (fixed length, so any disk name fits). */
function partialPrefix(finalPath: string): string {
  return `.${createHash('sha1').update(basename(finalPath)).digest('hex').slice(0, 16)}.part-`;
}

/**
 * A temporary name next to `finalPath` for writing it: the writer's pid in
 * it lets a later creation tell a dead writer's leftover from a live one.
 */
export function partialPath(finalPath: string): string {
  return join(dirname(finalPath), `${partialPrefix(finalPath)}${process.pid}-${randomBytes(6).toString('hex')}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoName(error) !== 'ESRCH';
  }
}

/**
 * Removes the temporary files of `finalPath` whose writer process is gone
 * (killed mid-copy); live writers' files are left alone.
 */
export async function sweepPartials(finalPath: string): Promise<void> {
  const prefix = partialPrefix(finalPath);
  let entries: string[];
  try {
    entries = await readdir(dirname(finalPath));
  } catch (error) {
    if (errnoName(error) === 'ENOENT') return;
    throw new ImageIoError(`cannot list ${dirname(finalPath)}: ${messageOf(error)}`, systemErrorDetails(error, 'create', dirname(finalPath)));
  }
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const pid = Number(entry.slice(prefix.length).split('-')[0]);
    // This process's own files may belong to a creation still running here.
    if (Number.isSafeInteger(pid) && pid > 0 && (pid === process.pid || alive(pid))) continue;
    await rm(join(dirname(finalPath), entry), { force: true });
  }
}

/**
 * Writes a new file at `finalPath` crash-safely: `write` fills a temporary
 * file, which gets mode 0644, is flushed (with `durable`, the default: a
 * power cut cannot leave a torn copy under the final name), and is linked to
 * `finalPath` only if nothing is there yet (link(2) never replaces). Resolves true when this
 * call placed the file, false when another writer placed one first (this
 * call's copy is dropped). `place` wraps the link (e.g. to take a lock only
 * for that moment). On failure the temporary file is removed and
 * nothing is at `finalPath` that was not there before.
 */
export async function createFileSafely(
  finalPath: string,
  write: (temporary: string) => Promise<void>,
  options: { durable?: boolean; place?: (link: () => Promise<boolean>) => Promise<boolean> } = {},
): Promise<boolean> {
  await sweepPartials(finalPath);
  const temporary = partialPath(finalPath);
  const durable = options.durable ?? true;
  const linkIntoPlace = async (): Promise<boolean> => {
    try {
      await link(temporary, finalPath);
      return true;
    } catch (error) {
      if (errnoName(error) === 'EEXIST') return false;
      throw error;
    }
  };
  try {
    await write(temporary);
    await chmod(temporary, FILE_MODE);
    if (durable) await fsyncFile(temporary);
    const placed = await (options.place ? options.place(linkIntoPlace) : linkIntoPlace());
    if (placed && durable) await fsyncDir(dirname(finalPath));
    return placed;
  } catch (error) {
    if (error instanceof ImageBackendError) throw error;
    throw new ImageIoError(`cannot create ${finalPath}: ${messageOf(error)}`, systemErrorDetails(error, 'create', finalPath));
  } finally {
    await rm(temporary, { force: true }).catch(() => undefined);
  }
}
