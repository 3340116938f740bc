import { invalidArgument } from '../errors.js';
import { DISK_FORMATS, isDiskFormat, type DiskFormat } from '../diskinfo/formats.js';
import { checkDiskConflicts } from './diskConflicts.js';
import { IOTUNE_EXTRA_SPECS, checkIoTune, ioTuneFromExtraSpecs, type IoTune } from './iotune.js';
import { XmlElement } from './XmlElement.js';

/** A monitor (or other server) of a network disk. */
export interface NetworkHost {
  /** Host name or IP address (IPv6 without brackets). */
  name: string;
  /** `<host port=…>`, 1 to 65535; absent: no `port` attribute, and the protocol's default port applies. */
  port?: number;
}

/** Where the disk's data is: a file, a block device, or an RBD image. */
export type DiskSource =
  | {
      /** `<disk type='file'>`: an image file. */
      type: 'file';
      /** `<source file=…>`: absolute path of the file. */
      path: string;
    }
  | {
      /** `<disk type='block'>`: a block device (an LVM volume). */
      type: 'block';
      /** `<source dev=…>`: absolute path of the device, e.g. `/dev/nova-vg/uuid_disk`. */
      dev: string;
    }
  | {
      /** `<disk type='network'>`: storage reached over the network. */
      type: 'network';
      /** `<source protocol=…>`; only `rbd` is supported. */
      protocol: 'rbd';
      /** `<source name=…>`: the RBD image as `pool/image` (or `pool/namespace/image`). */
      name: string;
      /** The `<host name=… port=…>` children: the Ceph monitors to contact. */
      hosts: readonly NetworkHost[];
    };

/** cephx credentials of a network disk: the user and the libvirt secret holding its key. */
export interface DiskAuth {
  /** `<auth username=…>`: the cephx user id without `client.` (nova's `rbd_user`). */
  username: string;
  /** `<secret type=…>`: always `ceph`. */
  secretType: 'ceph';
  /** `<secret uuid=…>`: the libvirt secret holding the user's key (nova's `rbd_secret_uuid`). */
  secretUuid: string;
}

/** libvirt's `<disk device=...>`. */
export type DiskDeviceType = 'disk' | 'cdrom' | 'floppy' | 'lun';
/** libvirt's `<target bus=...>`. */
export type DiskBus = 'virtio' | 'scsi' | 'ide' | 'sata' | 'usb' | 'fdc' | 'xen' | 'sd';
/** libvirt's `<driver cache=...>` (nova's `disk_cachemodes`). */
export type DiskCacheMode = 'none' | 'writeback' | 'writethrough' | 'directsync' | 'unsafe' | 'default';
/** libvirt's `<driver io=...>`. */
export type DiskIoMode = 'native' | 'threads' | 'io_uring';
/** libvirt's `<driver discard=...>` (nova's `hw_disk_discard`). */
export type DiskDiscardMode = 'unmap' | 'ignore';

/** Everything a `<disk>` element says (nova's `LibvirtConfigGuestDisk`). */
export interface LibvirtDiskConfigOptions {
  /** `<source>`, which also sets `<disk type=…>`: a file, a block device or an RBD image. */
  source: DiskSource;
  /** `<disk device=…>`; default `disk`. */
  deviceType?: DiskDeviceType;
  /** `<driver name=…>`; default `qemu` (nova's `pick_disk_driver_name` for KVM/QEMU). */
  driverName?: string;
  /** `<driver type=…>`: the format qemu opens the disk with. */
  driverFormat?: DiskFormat;
  /** `<driver cache=…>` (nova's `disk_cachemodes`); left out when absent. */
  driverCache?: DiskCacheMode;
  /** `<driver io=…>`; left out when absent ({@link Disk.libvirtInfo} sets `native` when preallocating and for non-sparse LVM volumes, as nova does, through {@link effectiveDriverIo}). `native` needs `driverCache` `none` or `directsync`. */
  driverIo?: DiskIoMode;
  /** `<driver discard=…>` (nova's `hw_disk_discard`); left out when absent. */
  driverDiscard?: DiskDiscardMode;
  /** `<target dev=…>`, e.g. `vda`, `sdb`. */
  targetDev: string;
  /** `<target bus=…>`: the guest bus, e.g. `virtio` or `scsi`. */
  targetBus: DiskBus;
  /** `<boot order=…>`. */
  bootOrder?: number;
  /** SCSI bus only: the unit of a `<address type='drive' controller='0' bus='0' target='0' unit=…>`. */
  diskUnit?: number;
  /** `<serial>`: the serial number the guest sees (nova: the volume id of a Cinder disk); letters, digits, spaces and `_.+-`. */
  serial?: string;
  /** Adds `<readonly/>`: the guest cannot write the disk. Default false. */
  readonly?: boolean;
  /** Adds `<shareable/>`: several guests may attach the disk at once. Default false. */
  shareable?: boolean;
  /** Network disks: cephx user and secret. */
  auth?: DiskAuth;
  /** I/O limits; see {@link ioTuneFromExtraSpecs}. */
  iotune?: IoTune;
}

const TARGET_DEV = /^(fd|hd|sd|vd|xvd|ubd)[a-zA-Z0-9_]+$/;
const GENERIC_NAME = /^[a-zA-Z0-9_+-]+$/;
const SERIAL = /^[A-Za-z0-9_.+\- ]+$/;
const UUID = /^([a-fA-F0-9]{32}|[a-fA-F0-9]{8}-([a-fA-F0-9]{4}-){3}[a-fA-F0-9]{12})$/;
const DNS_NAME = /^[a-zA-Z0-9.-]+$/;
const IPV6 = /^[0-9A-Fa-f:.]+$/;
const RBD_NAME = /^[^/@\s]+(\/[^/@\s]+){1,2}$/;

const DEVICE_TYPES: readonly DiskDeviceType[] = ['disk', 'cdrom', 'floppy', 'lun'];
const BUSES: readonly DiskBus[] = ['virtio', 'scsi', 'ide', 'sata', 'usb', 'fdc', 'xen', 'sd'];
const CACHE_MODES: readonly DiskCacheMode[] = ['none', 'writeback', 'writethrough', 'directsync', 'unsafe', 'default'];
const IO_MODES: readonly DiskIoMode[] = ['native', 'threads', 'io_uring'];
const DISCARD_MODES: readonly DiskDiscardMode[] = ['unmap', 'ignore'];

/**
 * A guest disk's libvirt configuration, validated when built so that
 * {@link LibvirtDiskConfig.toXml} always yields a `<disk>` element libvirt's
 * schema accepts, and no combination a running libvirt (9.0) or qemu (7.2)
 * refuses at define or start: `io='native'` without cache mode `none` or
 * `directsync`; a floppy off the `fdc` bus or anything else on it; a cdrom on
 * `virtio`; a lun that is not a block device on `virtio` or `scsi`; a
 * read-only IDE or SATA disk; a writable shareable disk that is not raw; a
 * serial on a floppy; the `xen` and `sd` buses with the qemu driver. Each
 * refusal is an `INVALID_ARGUMENT` error naming the conflict. This is what
 * `Disk.libvirtInfo` returns (nova's `libvirt_info`).
 *
 * @example
 * ```ts
 * const disk = new LibvirtDiskConfig({
 *   source: { type: 'network', protocol: 'rbd', name: 'vms/uuid_disk', hosts: [{ name: '10.0.0.1', port: 6789 }] },
 *   auth: { username: 'nova', secretType: 'ceph', secretUuid: '5b3c1b4e-8a9c-4f3e-9d7a-3c1b2a4e5f60' },
 *   driverFormat: 'raw', driverCache: 'writeback', targetDev: 'vda', targetBus: 'virtio',
 *   iotune: ioTuneFromExtraSpecs(flavor.extraSpecs),
 * });
 * domainXml.append(disk.toXml());
 * ```
 */
export class LibvirtDiskConfig {
  /** `<source>` (frozen), whose `type` is also `<disk type=…>`. */
  readonly source: DiskSource;
  /** `<disk device=…>`; default `disk`. */
  readonly deviceType: DiskDeviceType;
  /** `<driver name=…>`; default `qemu`. */
  readonly driverName: string;
  /** `<driver type=…>`: the format qemu opens the disk with; left out when undefined. */
  readonly driverFormat: DiskFormat | undefined;
  /** `<driver cache=…>` (nova's `disk_cachemodes`); left out when undefined. */
  readonly driverCache: DiskCacheMode | undefined;
  /** `<driver io=…>`; left out when undefined. */
  readonly driverIo: DiskIoMode | undefined;
  /** `<driver discard=…>` (nova's `hw_disk_discard`); left out when undefined. */
  readonly driverDiscard: DiskDiscardMode | undefined;
  /** `<target dev=…>`, e.g. `vda`, `sdb`. */
  readonly targetDev: string;
  /** `<target bus=…>`. */
  readonly targetBus: DiskBus;
  /** `<boot order=…>`, 1 first; no `<boot>` when undefined. */
  readonly bootOrder: number | undefined;
  /** SCSI only: the `unit` of `<address type='drive' controller='0' bus='0' target='0' unit=…>`; no `<address>` when undefined. */
  readonly diskUnit: number | undefined;
  /** `<serial>`; left out when undefined. */
  readonly serial: string | undefined;
  /** Whether `<readonly/>` is present. */
  readonly readonly: boolean;
  /** Whether `<shareable/>` is present. */
  readonly shareable: boolean;
  /** `<auth>` with its `<secret>`: cephx credentials of a network disk; undefined for local disks. */
  readonly auth: DiskAuth | undefined;
  /** `<iotune>` limits (frozen); an empty object writes no `<iotune>`. */
  readonly iotune: IoTune;

  constructor(options: LibvirtDiskConfigOptions) {
    if (typeof options !== 'object' || options === null) throw invalidArgument('disk options', 'options', options);
    this.source = checkSource(options.source);
    this.deviceType = oneOf('deviceType', options.deviceType ?? 'disk', DEVICE_TYPES);
    this.driverName = options.driverName ?? 'qemu';
    if (typeof this.driverName !== 'string' || !GENERIC_NAME.test(this.driverName)) {
      throw invalidArgument('a driver name', 'driverName', options.driverName);
    }
    if (options.driverFormat !== undefined && !isDiskFormat(options.driverFormat)) {
      throw invalidArgument(`one of ${DISK_FORMATS.join(', ')}`, 'driverFormat', options.driverFormat);
    }
    this.driverFormat = options.driverFormat;
    this.driverCache = optionalOneOf('driverCache', options.driverCache, CACHE_MODES);
    this.driverIo = optionalOneOf('driverIo', options.driverIo, IO_MODES);
    this.driverDiscard = optionalOneOf('driverDiscard', options.driverDiscard, DISCARD_MODES);
    if (typeof options.targetDev !== 'string' || !TARGET_DEV.test(options.targetDev)) {
      throw invalidArgument('a target device name like vda or sdb', 'targetDev', options.targetDev);
    }
    this.targetDev = options.targetDev;
    this.targetBus = oneOf('targetBus', options.targetBus, BUSES);
    this.bootOrder = optionalInteger('bootOrder', options.bootOrder, 1, 0xffff_ffff);
    this.diskUnit = optionalInteger('diskUnit', options.diskUnit, 0, 16383);
    if (this.diskUnit !== undefined && this.targetBus !== 'scsi') {
      throw invalidArgument('no diskUnit unless targetBus is scsi', 'diskUnit', this.diskUnit);
    }
    if (options.serial !== undefined && (typeof options.serial !== 'string' || !SERIAL.test(options.serial))) {
      throw invalidArgument('a serial of letters, digits, spaces and _.+-', 'serial', options.serial);
    }
    this.serial = options.serial;
    this.readonly = flag('readonly', options.readonly);
    this.shareable = flag('shareable', options.shareable);
    this.auth = checkAuth(options.auth);
    if (this.auth !== undefined && this.source.type !== 'network') {
      throw invalidArgument('auth only for a network source', 'auth', this.auth);
    }
    this.iotune = Object.freeze(checkIoTune(options.iotune ?? {}));
    checkDiskConflicts(this);
    Object.freeze(this);
  }

  /**
   * The same as `new LibvirtDiskConfig(options)` with `iotune` taken from a
   * flavor's extra specs (the six `quota:disk_*_sec` keys; others ignored).
   *
   * @example
   * ```ts
   * LibvirtDiskConfig.fromExtraSpecs({ source, targetDev: 'vda', targetBus: 'virtio' }, { 'quota:disk_total_iops_sec': '500' });
   * ```
   */
  static fromExtraSpecs(
    options: Omit<LibvirtDiskConfigOptions, 'iotune'>,
    extraSpecs: Readonly<Record<string, unknown>> | undefined,
  ): LibvirtDiskConfig {
    return new LibvirtDiskConfig({ ...options, iotune: ioTuneFromExtraSpecs(extraSpecs) });
  }

  /**
   * The `<disk>` element, in nova's element order.
   *
   * @example
   * ```ts
   * new LibvirtDiskConfig({ source: { type: 'file', path: '/i/uuid/disk' }, driverFormat: 'qcow2', targetDev: 'vda', targetBus: 'virtio' }).toXml();
   * // <disk type="file" device="disk">
   * //   <driver name="qemu" type="qcow2"/>
   * //   <source file="/i/uuid/disk"/>
   * //   <target dev="vda" bus="virtio"/>
   * // </disk>
   * ```
   */
  toXml(): string {
    return this.toElement().toString();
  }

  /**
   * The `<disk>` element as an {@link XmlElement}, to embed in a larger document.
   *
   * @example
   * ```ts
   * const devices = new XmlElement('devices');
   * devices.append(disk.toElement());
   * ```
   */
  toElement(): XmlElement {
    const disk = new XmlElement('disk', { type: this.source.type, device: this.deviceType });
    disk.append(
      new XmlElement('driver', {
        name: this.driverName,
        type: this.driverFormat,
        cache: this.driverCache,
        discard: this.driverDiscard,
        io: this.driverIo,
      }),
      sourceElement(this.source),
      this.auth &&
        new XmlElement('auth', { username: this.auth.username }).append(
          new XmlElement('secret', { type: this.auth.secretType, uuid: this.auth.secretUuid }),
        ),
      new XmlElement('target', { dev: this.targetDev, bus: this.targetBus }),
      this.serial === undefined ? undefined : XmlElement.text('serial', this.serial),
      iotuneElement(this.iotune),
      this.readonly ? new XmlElement('readonly') : undefined,
      this.shareable ? new XmlElement('shareable') : undefined,
      this.bootOrder === undefined ? undefined : new XmlElement('boot', { order: this.bootOrder }),
      this.diskUnit === undefined
        ? undefined
        : new XmlElement('address', { type: 'drive', controller: 0, bus: 0, target: 0, unit: this.diskUnit }),
    );
    return disk;
  }
}

function sourceElement(source: DiskSource): XmlElement {
  switch (source.type) {
    case 'file':
      return new XmlElement('source', { file: source.path });
    case 'block':
      return new XmlElement('source', { dev: source.dev });
    case 'network':
      return new XmlElement('source', { protocol: source.protocol, name: source.name }).append(
        ...source.hosts.map((h) => new XmlElement('host', { name: h.name, port: h.port })),
      );
  }
}

function iotuneElement(tune: IoTune): XmlElement | undefined {
  const iotune = new XmlElement('iotune');
  for (const [, field, element] of IOTUNE_EXTRA_SPECS) {
    const value = tune[field];
    if (value !== undefined) iotune.append(XmlElement.text(element, value));
  }
  return iotune.isEmpty ? undefined : iotune;
}

function checkSource(source: DiskSource): DiskSource {
  if (typeof source !== 'object' || source === null) throw invalidArgument('a disk source', 'source', source);
  switch (source.type) {
    case 'file':
      return Object.freeze({ type: 'file', path: absolutePath('source.path', source.path) });
    case 'block':
      return Object.freeze({ type: 'block', dev: absolutePath('source.dev', source.dev) });
    case 'network': {
      if (source.protocol !== 'rbd') throw invalidArgument("'rbd'", 'source.protocol', source.protocol);
      if (typeof source.name !== 'string' || !RBD_NAME.test(source.name)) {
        throw invalidArgument('an RBD name pool/image', 'source.name', source.name);
      }
      if (!Array.isArray(source.hosts)) throw invalidArgument('an array of hosts', 'source.hosts', source.hosts);
      const hosts = source.hosts.map((h: NetworkHost, i) => {
        const name = h?.name;
        if (typeof name !== 'string' || !(DNS_NAME.test(name) || (name.includes(':') && IPV6.test(name)))) {
          throw invalidArgument('a host name or IP address', `source.hosts[${i}].name`, name);
        }
        const port = optionalInteger(`source.hosts[${i}].port`, h.port, 1, 65535);
        return Object.freeze(port === undefined ? { name } : { name, port });
      });
      return Object.freeze({ type: 'network', protocol: 'rbd', name: source.name, hosts: Object.freeze(hosts) });
    }
    default:
      throw invalidArgument("a source of type 'file', 'block' or 'network'", 'source.type', (source as { type?: unknown }).type);
  }
}

function checkAuth(auth: DiskAuth | undefined): DiskAuth | undefined {
  if (auth === undefined) return undefined;
  if (typeof auth !== 'object' || auth === null) throw invalidArgument('auth options', 'auth', auth);
  if (typeof auth.username !== 'string' || !GENERIC_NAME.test(auth.username)) {
    throw invalidArgument('a user name of letters, digits and _+-', 'auth.username', auth.username);
  }
  if (auth.secretType !== 'ceph') throw invalidArgument("'ceph'", 'auth.secretType', auth.secretType);
  if (typeof auth.secretUuid !== 'string' || !UUID.test(auth.secretUuid)) {
    throw invalidArgument('a UUID', 'auth.secretUuid', auth.secretUuid);
  }
  return Object.freeze({ username: auth.username, secretType: auth.secretType, secretUuid: auth.secretUuid });
}

function absolutePath(name: string, value: unknown): string {
  // libvirt's schema (absFilePath: "(/|[a-zA-Z]:\\).+") admits no line breaks.
  if (typeof value !== 'string' || !/^\/[^\n\r\0]+$/.test(value)) {
    throw invalidArgument('an absolute path without line breaks', name, value);
  }
  return value;
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!(allowed as readonly unknown[]).includes(value)) throw invalidArgument(`one of ${allowed.join(', ')}`, name, value);
  return value as T;
}

function optionalOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T | undefined {
  return value === undefined ? undefined : oneOf(name, value, allowed);
}

function optionalInteger(name: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(`an integer from ${min} to ${max}`, name, value);
  }
  return value;
}

function flag(name: string, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw invalidArgument('a boolean', name, value);
  return value;
}
