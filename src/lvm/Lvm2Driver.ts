import { blockDeviceSize } from '../blockdev/index.js';
import { ImageBackendError, invalidArgument, LvmError, LvmNoSpaceError, LvmNotFoundError, VolumesNotRemovedError } from '../errors.js';
import { checkClearOptions, clearVolumeData } from './clear.js';
import type {
  ClearVolumeOptions,
  ClearVolumeResult,
  CreatedVolume,
  CreateVolumeOptions,
  LvmDriver,
  RemoveVolumesOptions,
  VolumeGroupInfo,
  VolumeInfo,
} from './LvmDriver.js';
import type { LvmCommandResult, LvmRunner } from './LvmRunner.js';
import { checkVolumeGroupName, checkVolumeNames, parseVolumePath } from './names.js';
import { bytesField, commandError, parseLvmJson, type LvmJson } from './report.js';

/**
 * What nova preallocates for a sparse volume.
 *
 * @example
 * ```ts
 * console.log(`sparse volumes start with ${SPARSE_PREALLOCATION / 2 ** 20} MiB allocated`);
 * ```
 */
export const SPARSE_PREALLOCATION = 64 * 2 ** 20;

// Reports in bytes. JSON output and the command log come from the runner's
// --config; commands that change things refuse the unit options.
const REPORT = ['--units', 'b', '--nosuffix'];

/** Options of {@link Lvm2Driver}. */
export interface Lvm2DriverOptions {
  /** Tries of `lvremove` per volume (nova: 3). */
  removeAttempts?: number;
}

/**
 * The {@link LvmDriver} over lvm2: every command through one {@link LvmRunner}
 * (the `lvm` program or liblvm2cmd), every answer read from lvm2's JSON
 * report in bytes, every failure a typed error.
 *
 * @example
 * ```ts
 * const driver = new Lvm2Driver(new LvmCliRunner());
 * const { path } = await driver.createVolume('nova-vg', volumeName(uuid, 'disk'), 20 * 2 ** 30);
 * await driver.removeVolumes([path], { clear: { volumeClear: 'zero' } });
 * ```
 */
export class Lvm2Driver implements LvmDriver {
  readonly #runner: LvmRunner;
  readonly #removeAttempts: number;

  constructor(runner: LvmRunner, options: Lvm2DriverOptions = {}) {
    if (typeof runner?.run !== 'function') throw invalidArgument('an LvmRunner', 'runner', runner);
    const attempts = options.removeAttempts ?? 3;
    if (!Number.isSafeInteger(attempts) || attempts < 1) throw invalidArgument('a positive integer', 'removeAttempts', attempts);
    this.#runner = runner;
    this.#removeAttempts = attempts;
  }

  /** The runner's kind: `'cli'` or `'lib'`. */
  get runnerKind(): 'cli' | 'lib' {
    return this.#runner.kind;
  }

  /**
   * Whether lvm2 runs with device-mapper (`'activation'`) or with
   * `global/activation=0` (`'no-activation'`: metadata only, no device nodes).
   *
   * @example
   * ```ts
   * console.log(`lvm2 mode: ${await driver.mode()}`);
   * ```
   */
  async mode(): Promise<'activation' | 'no-activation'> {
    return (await this.#runner.activationEnabled()) ? 'activation' : 'no-activation';
  }

  async #run(argv: string[], details: { operation: string; volumeGroup?: string; logicalVolume?: string; path?: string }): Promise<LvmJson> {
    const result: LvmCommandResult = await this.#runner.run(argv);
    let json: LvmJson | undefined;
    try {
      json = parseLvmJson(result);
    } catch (error) {
      if (result.status === 0) throw error;
    }
    if (result.status !== 0) throw commandError(result, details, json);
    return json as LvmJson;
  }

  /**
   * Total, free and used bytes of a volume group and its extent size. Rejects
   * with `LVM_NOT_FOUND` when it does not exist.
   *
   * @example
   * ```ts
   * const { free, extentSize } = await driver.vgInfo('nova-vg');
   * ```
   */
  async vgInfo(volumeGroup: string): Promise<VolumeGroupInfo> {
    checkVolumeGroupName(volumeGroup);
    const argv = ['vgs', ...REPORT, '-o', 'vg_name,vg_size,vg_free,vg_extent_size', volumeGroup];
    const json = await this.#run(argv, { operation: 'vgInfo', volumeGroup });
    const row = json.reports.vg?.find((r) => r.vg_name === volumeGroup);
    if (!row) throw new LvmNotFoundError(`vgInfo: volume group ${volumeGroup} not found`, { operation: 'vgInfo', volumeGroup });
    const total = bytesField(row, 'vg_size', argv);
    const free = bytesField(row, 'vg_free', argv);
    return { name: volumeGroup, total, free, used: total - free, extentSize: bytesField(row, 'vg_extent_size', argv) };
  }

  /**
   * Creates a logical volume of at least `size` bytes (rounded up to whole
   * extents) after checking the group's free space; a sparse volume gets
   * `size` as its virtual size and 64 MiB allocated. Rejects with
   * `LVM_NO_SPACE`, `LVM_EXISTS`, `LVM_NOT_FOUND` (no such group) or
   * `LVM_FAILED`.
   *
   * @example
   * ```ts
   * const vol = await driver.createVolume('nova-vg', 'uuid_disk', 10 * 2 ** 30);
   * console.log(vol.path, vol.size);
   * ```
   */
  async createVolume(
    volumeGroup: string,
    logicalVolume: string,
    size: number,
    options: CreateVolumeOptions = {},
  ): Promise<CreatedVolume> {
    checkVolumeNames(volumeGroup, logicalVolume);
    if (!Number.isSafeInteger(size) || size <= 0) throw invalidArgument('a positive integer byte count', 'size', size);
    const sparse = options.sparse ?? false;
    if (typeof sparse !== 'boolean') throw invalidArgument('a boolean', 'sparse', sparse);
    const vg = await this.vgInfo(volumeGroup);
    const roundUp = (n: number): number => Math.ceil(n / vg.extentSize) * vg.extentSize;
    const rounded = roundUp(size);
    const allocated = sparse ? roundUp(SPARSE_PREALLOCATION) : rounded;
    const details = { operation: 'createVolume', volumeGroup, logicalVolume };
    if (allocated > vg.free) {
      throw new LvmNoSpaceError(`createVolume: volume group ${volumeGroup} has ${vg.free} bytes free, volume ${logicalVolume} needs ${allocated}`,
        details,
      );
    }
    // --type snapshot: nova's sparse volume, a snapshot of the zero target.
    // lvm2 2.03 would otherwise make a thin pool (sparse_segtype_default),
    // which outlives the volume when it is removed.
    const argv = sparse
      ? ['lvcreate', '--yes', '--type', 'snapshot', '-L', `${allocated}b`, '-V', `${rounded}b`, '-n', logicalVolume, volumeGroup]
      : ['lvcreate', '--yes', '-L', `${rounded}b`, '-n', logicalVolume, volumeGroup];
    await this.#run(argv, details);
    return { path: `/dev/${volumeGroup}/${logicalVolume}`, volumeGroup, logicalVolume, size: rounded };
  }

  /**
   * Names of the logical volumes of a group (nova's `list_volumes`).
   *
   * @example
   * ```ts
   * const mine = (await driver.listVolumes('nova-vg')).filter((n) => n.startsWith(`${uuid}_`));
   * ```
   */
  async listVolumes(volumeGroup: string): Promise<string[]> {
    checkVolumeGroupName(volumeGroup);
    const json = await this.#run(['lvs', ...REPORT, '-o', 'lv_name', volumeGroup], { operation: 'listVolumes', volumeGroup });
    return (json.reports.lv ?? []).map((r) => r.lv_name ?? '').filter((n) => n !== '');
  }

  /**
   * Everything lvm2 reports about one logical volume (`lv_all`, `vg_all`).
   * Rejects with `LVM_NOT_FOUND` when it does not exist.
   *
   * @example
   * ```ts
   * const { volumeGroup, logicalVolume, size, attr } = await driver.volumeInfo('/dev/nova-vg/uuid_disk');
   * ```
   */
  async volumeInfo(path: string): Promise<VolumeInfo> {
    const { volumeGroup, logicalVolume } = parseVolumePath(path);
    const argv = ['lvs', ...REPORT, '-o', 'lv_all,vg_all', `${volumeGroup}/${logicalVolume}`];
    const details = { operation: 'volumeInfo', volumeGroup, logicalVolume, path };
    const json = await this.#run(argv, details);
    const row = json.reports.lv?.[0];
    if (!row) throw new LvmNotFoundError(`volumeInfo: ${path} is not a logical volume`, details);
    return {
      path: row.lv_path || `/dev/${volumeGroup}/${logicalVolume}`,
      volumeGroup,
      logicalVolume,
      size: bytesField(row, 'lv_size', argv),
      attr: row.lv_attr ?? '',
      uuid: row.lv_uuid ?? '',
      fields: row,
    };
  }

  /**
   * The size of the volume's device in bytes (BLKGETSIZE64, no fork). Rejects
   * with `DISK_NOT_FOUND` when the path does not exist.
   *
   * @example
   * ```ts
   * const bytes = await driver.getVolumeSize('/dev/nova-vg/uuid_disk');
   * ```
   */
  getVolumeSize(path: string): Promise<number> {
    return blockDeviceSize(path);
  }

  /**
   * Wipes a volume per `volumeClear` (see {@link ClearVolumeOptions}); a
   * missing volume is ignored (`missing: true`).
   *
   * @example
   * ```ts
   * await driver.clearVolume(path, { volumeClear: 'shred', volumeClearSizeMiB: 100, signal });
   * ```
   */
  clearVolume(path: string, options: ClearVolumeOptions): Promise<ClearVolumeResult> {
    if (typeof path !== 'string' || path === '') throw invalidArgument('a non-empty string', 'path', path);
    return clearVolumeData(path, options);
  }

  /**
   * Removes logical volumes (`lvremove -f`), each tried up to
   * `removeAttempts` times, optionally clearing each first. Every path is
   * tried; then, if any failed, one `VOLUMES_NOT_REMOVED` error lists them.
   *
   * @example
   * ```ts
   * await driver.removeVolumes(['/dev/nova-vg/uuid_disk', '/dev/nova-vg/uuid_disk.local'],
   *   { clear: { volumeClear: 'zero' } });
   * ```
   */
  async removeVolumes(paths: readonly string[], options: RemoveVolumesOptions = {}): Promise<void> {
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) throw invalidArgument('an array of paths', 'paths', paths);
    if (options.clear !== undefined) checkClearOptions(options.clear);
    const failures: { path: string; error: ImageBackendError }[] = [];
    for (const path of paths) {
      try {
        await this.#removeOne(path, options.clear);
      } catch (error) {
        const typed =
          error instanceof ImageBackendError
            ? error
            : new LvmError(`removing ${path} failed: ${String(error)}`, { operation: 'removeVolumes', path, cause: error });
        failures.push({ path, error: typed });
      }
    }
    if (failures.length > 0) {
      const list = failures.map((f) => `${f.path}: ${f.error.message}`).join('; ');
      throw new VolumesNotRemovedError(`${failures.length} logical volume(s) not removed: ${list}`, { operation: 'removeVolumes', failures });
    }
  }

  async #removeOne(path: string, clear: ClearVolumeOptions | undefined): Promise<void> {
    const { volumeGroup, logicalVolume } = parseVolumePath(path);
    if (clear) await this.clearVolume(path, clear);
    const details = { operation: 'removeVolumes', volumeGroup, logicalVolume, path };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#run(['lvremove', '-f', `${volumeGroup}/${logicalVolume}`], details);
        return;
      } catch (error) {
        const retry = error instanceof ImageBackendError && error.code === 'LVM_FAILED' && attempt < this.#removeAttempts;
        if (!retry) throw error;
      }
    }
  }

  /**
   * Closes the runner (the library runner stops its thread).
   *
   * @example
   * ```ts
   * await driver.close();
   * ```
   */
  close(): Promise<void> {
    return this.#runner.close();
  }

  /**
   * The same as `close()`, so the driver can be held with `await using`
   * and is closed when the scope ends, thrown out of or not.
   *
   * @example
   * ```ts
   * await using driver = new Lvm2Driver(new LvmLibRunner());
   * await driver.vgInfo('nova-vg');
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
