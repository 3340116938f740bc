// Combinations of <disk> settings that libvirt 9.0 (Debian 12) or qemu 7.2
// refuses, each seen refused by a running libvirtd (scripts/libvirt-boot-test.sh
// checks every rule against it). LibvirtDiskConfig refuses them first, so a
// caller learns at configuration time, with a typed error naming the conflict,
// what libvirt would otherwise say only at define or start.
import { invalidArgument } from '../errors.js';
import type { DiskBus, DiskCacheMode, DiskDeviceType, DiskIoMode, DiskSource } from './LibvirtDiskConfig.js';
import type { DiskFormat } from '../diskinfo/formats.js';

/**
 * The settings of a `<disk>` whose combinations libvirt restricts; a
 * `LibvirtDiskConfig` is one.
 *
 * @example
 * ```ts
 * const disk: DiskCombination = new LibvirtDiskConfig({ source, targetDev: 'vda', targetBus: 'virtio' });
 * checkDiskConflicts(disk);
 * ```
 */
export interface DiskCombination {
  /** `<source>`: its type decides which device types are possible. */
  source: DiskSource;
  /** `<disk device>`. */
  deviceType: DiskDeviceType;
  /** `<driver name>`. */
  driverName: string;
  /** `<driver type>`. */
  driverFormat: DiskFormat | undefined;
  /** `<driver cache>`. */
  driverCache: DiskCacheMode | undefined;
  /** `<driver io>`. */
  driverIo: DiskIoMode | undefined;
  /** `<target bus>`. */
  targetBus: DiskBus;
  /** `<serial>`. */
  serial: string | undefined;
  /** `<readonly/>`. */
  readonly: boolean;
  /** `<shareable/>`. */
  shareable: boolean;
}

// The cache modes that open the disk with O_DIRECT: the only ones Linux
// native AIO works with, hence the only ones libvirt lets io='native' use.
const DIRECT_CACHE_MODES: readonly (DiskCacheMode | undefined)[] = ['none', 'directsync'];

/**
 * The `<driver io>` to write for a disk, chosen as nova does
 * (`LibvirtDriver._set_cache_mode`, bug 1841363): `native` stays only with a
 * cache mode that bypasses the host page cache (`none` or `directsync`);
 * with any other, `threads`, because libvirt refuses `io='native'` there
 * ("io='native' needs either no disk cache or directsync cache mode"). Unlike
 * nova, a missing cache mode also falls back: libvirt 9.0 refuses
 * `io='native'` without a `cache` attribute too (nova always sets one).
 * Other io modes are returned unchanged.
 *
 * @param io - the io mode the backend asks for (`native` when preallocating or for a non-sparse LVM volume), or undefined.
 * @param cacheMode - the `<driver cache>` the disk gets, or undefined when it has none.
 * @returns the io mode to configure, or undefined when none was asked for.
 *
 * @example
 * ```ts
 * effectiveDriverIo('native', 'none');      // 'native'
 * effectiveDriverIo('native', 'writeback'); // 'threads'
 * effectiveDriverIo(undefined, 'writeback'); // undefined
 * ```
 */
export function effectiveDriverIo(io: DiskIoMode | undefined, cacheMode: DiskCacheMode | undefined): DiskIoMode | undefined {
  if (io !== 'native') return io;
  return DIRECT_CACHE_MODES.includes(cacheMode) ? 'native' : 'threads';
}

/**
 * Refuses a combination libvirt or qemu would refuse, with an
 * `INVALID_ARGUMENT` error that names the setting in conflict and what it
 * conflicts with.
 *
 * @example
 * ```ts
 * checkDiskConflicts({ ...settings, driverIo: 'native', driverCache: 'writeback' });
 * // throws: Expected driverCache 'none' or 'directsync' with driverIo 'native' (libvirt: io='native' needs ...) ...
 * ```
 */
export function checkDiskConflicts(disk: DiskCombination): void {
  if (disk.driverIo === 'native' && !DIRECT_CACHE_MODES.includes(disk.driverCache)) {
    throw invalidArgument(
      "driverCache 'none' or 'directsync' with driverIo 'native' (libvirt: io='native' needs either no disk cache or directsync cache mode; effectiveDriverIo() picks 'threads' instead, as nova does)",
      'driverCache',
      disk.driverCache,
    );
  }
  // qemu's pc and q35 machines have neither bus; libvirt defines such a disk
  // and fails only when the guest starts ("unsupported disk bus 'xen'", qemu
  // refusing if=sd). nova never uses them for kvm/qemu guests.
  if (disk.driverName === 'qemu' && (disk.targetBus === 'xen' || disk.targetBus === 'sd')) {
    throw invalidArgument(
      `a bus other than '${disk.targetBus}' with driverName 'qemu' (qemu's x86 machines have no ${disk.targetBus} bus; nova's qemu/kvm buses are virtio, scsi, ide, sata, usb, fdc)`,
      'targetBus',
      disk.targetBus,
    );
  }
  if ((disk.deviceType === 'floppy') !== (disk.targetBus === 'fdc')) {
    throw invalidArgument(
      disk.deviceType === 'floppy'
        ? "targetBus 'fdc' with deviceType 'floppy' (libvirt: invalid bus type for floppy disk)"
        : "deviceType 'floppy' on targetBus 'fdc' (libvirt: invalid bus type 'fdc' for disk)",
      disk.deviceType === 'floppy' ? 'targetBus' : 'deviceType',
      disk.deviceType === 'floppy' ? disk.targetBus : disk.deviceType,
    );
  }
  if (disk.deviceType === 'cdrom' && disk.targetBus === 'virtio') {
    throw invalidArgument(
      "a targetBus other than 'virtio' with deviceType 'cdrom' (libvirt: virtio disks do not support ejectable media)",
      'targetBus',
      disk.targetBus,
    );
  }
  if (disk.deviceType === 'lun') {
    if (disk.source.type !== 'block') {
      throw invalidArgument(
        "a source of type 'block' with deviceType 'lun' (libvirt: disk device='lun' is only valid for block type disk source)",
        'source.type',
        disk.source.type,
      );
    }
    if (disk.targetBus !== 'virtio' && disk.targetBus !== 'scsi') {
      throw invalidArgument(
        "targetBus 'virtio' or 'scsi' with deviceType 'lun' (libvirt: disk device='lun' is not supported for this bus)",
        'targetBus',
        disk.targetBus,
      );
    }
  }
  if (disk.readonly && disk.deviceType === 'disk' && (disk.targetBus === 'ide' || disk.targetBus === 'sata')) {
    throw invalidArgument(
      `no readonly with deviceType 'disk' on targetBus '${disk.targetBus}' (libvirt: readonly ${disk.targetBus} disks are not supported)`,
      'readonly',
      disk.readonly,
    );
  }
  // Several guests writing one image is safe only for raw, which has no
  // metadata of its own to corrupt; libvirt defaults a missing format to raw.
  if (disk.shareable && !disk.readonly && disk.driverFormat !== undefined && disk.driverFormat !== 'raw') {
    throw invalidArgument(
      "driverFormat 'raw' (or readonly) with shareable (libvirt: shared access requires use of supported storage format)",
      'driverFormat',
      disk.driverFormat,
    );
  }
  if (disk.serial !== undefined && disk.deviceType === 'floppy') {
    throw invalidArgument("no serial with deviceType 'floppy' (qemu's floppy device has no serial property)", 'serial', disk.serial);
  }
}
