import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readdir, rm } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { DiskInfoReadError, DiskInfoWriteError, ImageBackendError, InvalidDiskInfoError, UnsupportedFileTypeError, invalidArgument } from '../errors.js';
import { writeFileAtomic } from '../fsutil/atomic.js';
import { errnoName, messageOf, systemErrorDetails } from '../fsutil/errno.js';
import { Locks, type LockService } from '../cache/Locks.js';
import { DISK_FORMATS, isDiskFormat, type DiskFormat } from './formats.js';
import { makeFolders } from '../fsutil/makeFolders.js';

/** How a {@link DiskInfo} locks. */
export interface DiskInfoOptions {
  /**
   * The locks writers take (in-process and external). Default: lock
   * directories next to disk.info (`.disk.info-<hash>`, present only while held).
   */
  locks?: LockService;
}

/** Finds a disk's format when disk.info does not know it yet, e.g. by inspecting its header. */
export type DetectFormat = (diskPath: string) => Promise<DiskFormat>;

/**
 * The name of the file in an instance folder.
 *
 * @example
 * ```ts
 * const path = join(instanceDir, DISK_INFO_FILENAME); // '<instance dir>/disk.info'
 * ```
 */
export const DISK_INFO_FILENAME = 'disk.info';

const TEMP_INFIX = '.tmp-';

/**
 * An instance's `disk.info`: a JSON object `{ "<disk path>": "<format>" }` that
 * remembers each disk's format from when the disk was created, so a guest that
 * writes a qcow2 header into its raw disk cannot make the host open it as
 * qcow2 (nova bug 1221190). Entries are never changed: the first format
 * recorded for a path stays. Writes are atomic (temporary file, fsync,
 * rename, fsync of the folder) and serialized by a lock that holds across
 * processes; readers need no lock.
 *
 * @example
 * ```ts
 * const info = DiskInfo.forInstance('/var/lib/nova/instances/7f3c…');
 * const format = await info.resolveFormat('/var/lib/nova/instances/7f3c…/disk', async (p) => (await inspect(p)).format);
 * ```
 */
export class DiskInfo {
  /** The disk.info file. */
  readonly path: string;
  readonly #locks: LockService;
  readonly #lockName: string;

  constructor(path: string, options: DiskInfoOptions = {}) {
    checkPath('path', path);
    this.path = resolve(path);
    this.#locks = options.locks ?? new Locks({ lockPath: dirname(this.path), prefix: '.', removeOnRelease: true });
    // A name of our own, not nova's: nova's resolve_driver_format writes
    // disk.info under utils.synchronized(disk_info_path, external=False,
    // lock_path=...), and with external=False oslo.concurrency takes only an
    // in-process semaphore and never a file in lock_path (checked in Debian's
    // python3-nova 26.2.2 and oslo.concurrency: lockutils.lock opens the
    // external lock only when external is true). So no nova process holds a
    // lock file for disk.info: this name cannot collide with one, and there is
    // none to share (across processes nova relies on writing disk.info.tmp and
    // renaming it, so a reader sees one writer's whole file, as with ours).
    this.#lockName = `${basename(this.path)}-${createHash('sha1').update(this.path).digest('hex').slice(0, 16)}`;
  }

  /**
   * The disk.info of an instance folder.
   *
   * @example
   * ```ts
   * DiskInfo.forInstance('/var/lib/nova/instances/uuid').path; // '/var/lib/nova/instances/uuid/disk.info'
   * ```
   */
  static forInstance(instanceDir: string, options: DiskInfoOptions = {}): DiskInfo {
    checkPath('instanceDir', instanceDir);
    return new DiskInfo(join(instanceDir, DISK_INFO_FILENAME), options);
  }

  /**
   * Every entry; empty when the file does not exist or is empty. Rejects with
   * `INVALID_DISK_INFO` for content that is not a `{path: format}` object of
   * known formats, `DISK_INFO_READ_FAILED` when the file cannot be read,
   * `UNSUPPORTED_FILE_TYPE` when it is not a regular file (a FIFO is refused
   * without blocking).
   *
   * @example
   * ```ts
   * const entries = await info.read(); // { '/var/lib/nova/instances/uuid/disk': 'qcow2' }
   * ```
   */
  async read(): Promise<Record<string, DiskFormat>> {
    return Object.fromEntries(await this.#load());
  }

  /**
   * The format recorded for `diskPath`, or undefined.
   *
   * @example
   * ```ts
   * const format = await info.readFormat('/var/lib/nova/instances/uuid/disk'); // 'raw' | 'qcow2' | … | undefined
   * ```
   */
  async readFormat(diskPath: string): Promise<DiskFormat | undefined> {
    checkDiskKey(diskPath);
    return (await this.#load()).get(diskPath);
  }

  /**
   * Records `format` for `diskPath` unless a format is already recorded for
   * it, and returns the format now recorded: the first writer wins, an entry
   * is never overwritten (compare the result with what you passed).
   *
   * @example
   * ```ts
   * await info.recordFormat('/var/lib/nova/instances/uuid/disk', 'raw'); // 'raw'
   * await info.recordFormat('/var/lib/nova/instances/uuid/disk', 'qcow2'); // still 'raw'
   * ```
   */
  async recordFormat(diskPath: string, format: DiskFormat): Promise<DiskFormat> {
    checkDiskKey(diskPath);
    if (!isDiskFormat(format)) throw invalidArgument(`one of ${DISK_FORMATS.join(', ')}`, 'format', format);
    try {
      await makeFolders(dirname(this.path));
    } catch (error) {
      throw this.#ioError('DISK_INFO_WRITE_FAILED', error);
    }
    return this.#locks.synchronized(this.#lockName, async () => {
      const entries = await this.#load();
      const existing = entries.get(diskPath);
      if (existing !== undefined) return existing;
      entries.set(diskPath, format);
      try {
        await this.#sweepTemporaries();
        await writeFileAtomic(this.path, `${JSON.stringify(Object.fromEntries(entries))}\n`, 0o644);
      } catch (error) {
        throw this.#ioError('DISK_INFO_WRITE_FAILED', error);
      }
      return format;
    });
  }

  /**
   * Forgets the format recorded for `diskPath` (the disk was removed, or its
   * creation failed), so a new disk at the same path is not opened with the
   * old disk's format. Nothing recorded is not an error.
   *
   * @example
   * ```ts
   * await info.removeFormat('/var/lib/nova/instances/uuid/disk');
   * ```
   */
  async removeFormat(diskPath: string): Promise<void> {
    checkDiskKey(diskPath);
    if ((await this.readFormat(diskPath)) === undefined) return;
    await this.#locks.synchronized(this.#lockName, async () => {
      const entries = await this.#load();
      if (!entries.delete(diskPath)) return;
      try {
        await this.#sweepTemporaries();
        await writeFileAtomic(this.path, `${JSON.stringify(Object.fromEntries(entries))}\n`, 0o644);
      } catch (error) {
        throw this.#ioError('DISK_INFO_WRITE_FAILED', error);
      }
    });
  }

  /**
   * nova's `resolve_driver_format`: the recorded format of `diskPath`; when
   * there is none, `detect`'s answer, recorded for every later call (in any
   * process). When two callers race, both get the first recorded format.
   *
   * @example
   * ```ts
   * const format = await info.resolveFormat(disk, async () => 'raw');
   * ```
   */
  async resolveFormat(diskPath: string, detect: DetectFormat): Promise<DiskFormat> {
    checkDiskKey(diskPath);
    if (typeof detect !== 'function') throw invalidArgument('a function', 'detect', detect);
    const recorded = await this.readFormat(diskPath);
    if (recorded !== undefined) return recorded;
    const detected = await detect(diskPath);
    if (!isDiskFormat(detected)) throw invalidArgument(`one of ${DISK_FORMATS.join(', ')}`, 'the detected format', detected);
    return this.recordFormat(diskPath, detected);
  }

  async #load(): Promise<Map<string, DiskFormat>> {
    let text: string;
    try {
      text = await readRegularFile(this.path);
    } catch (error) {
      if (errnoName(error) === 'ENOENT') return new Map();
      throw this.#ioError('DISK_INFO_READ_FAILED', error);
    }
    return parse(this.path, text);
  }

  /** Temporary files of writers that died; holding the lock, none is live. */
  async #sweepTemporaries(): Promise<void> {
    const prefix = `${basename(this.path)}${TEMP_INFIX}`;
    for (const entry of await readdir(dirname(this.path))) {
      if (entry.startsWith(prefix)) await rm(join(dirname(this.path), entry), { force: true });
    }
  }

  #ioError(code: 'DISK_INFO_READ_FAILED' | 'DISK_INFO_WRITE_FAILED', error: unknown): ImageBackendError {
    if (error instanceof ImageBackendError) return error;
    const verb = code === 'DISK_INFO_READ_FAILED' ? 'read' : 'write';
    const Class = verb === 'read' ? DiskInfoReadError : DiskInfoWriteError;
    return new Class(`cannot ${verb} ${this.path}: ${messageOf(error)}`, systemErrorDetails(error, verb === 'read' ? 'readDiskInfo' : 'writeDiskInfo', this.path));
  }
}

/**
 * Reads a file that must be a regular file. The open is non-blocking and the
 * type is checked before any read: a FIFO planted as disk.info would
 * otherwise block a libuv thread forever (and with it the process's exit).
 */
async function readRegularFile(path: string): Promise<string> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    // A directory fails the read below with EISDIR (DISK_INFO_READ_FAILED), as it always did.
    if (!st.isFile() && !st.isDirectory()) {
      const what = st.isFIFO() ? 'a FIFO' : st.isSocket() ? 'a socket' : st.isCharacterDevice() ? 'a character device' : 'a block device';
      throw new UnsupportedFileTypeError(`${path} is ${what}, not a regular file: refusing to read it as disk.info`, {
        operation: 'readDiskInfo',
        path,
        errno: -osConstants.errno.EINVAL,
        errnoName: 'EINVAL',
        syscall: 'fstat',
      });
    }
    return await fh.readFile('utf8');
  } finally {
    await fh.close();
  }
}

function parse(path: string, text: string): Map<string, DiskFormat> {
  const invalid = (why: string, cause?: unknown): InvalidDiskInfoError =>
    new InvalidDiskInfoError(`${path} is not valid disk.info: ${why}`, {
      operation: 'readDiskInfo',
      path,
      ...(cause === undefined ? {} : { cause }),
    });
  // nova writes one line and may leave an empty file (it opens with O_CREAT).
  if (text.trim() === '') return new Map();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw invalid(messageOf(error), error);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`expected an object of {path: format} but found ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const entries = new Map<string, DiskFormat>();
  for (const [key, format] of Object.entries(value)) {
    if (key === '') throw invalid('an empty disk path');
    if (!isDiskFormat(format)) {
      throw invalid(`the format of ${JSON.stringify(key)} is ${JSON.stringify(format)}, not one of ${DISK_FORMATS.join(', ')}`);
    }
    entries.set(key, format);
  }
  return entries;
}

/** A disk's key: a path, or nova's Rbd pseudo-path `rbd:pool/image[:id=user][:conf=file]`. */
function checkDiskKey(value: unknown): asserts value is string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    throw invalidArgument('a disk path', 'diskPath', value);
  }
}

function checkPath(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || !isAbsolute(value) || value.includes('\0')) {
    throw invalidArgument('an absolute path', name, value);
  }
}
