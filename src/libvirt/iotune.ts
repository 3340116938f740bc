import { invalidArgument } from '../errors.js';

/** Disk I/O limits (libvirt `<iotune>`): bytes or operations per second. */
export interface IoTune {
  /** `<read_bytes_sec>`: read bandwidth limit, bytes per second (extra spec `quota:disk_read_bytes_sec`). */
  readBytesSec?: number;
  /** `<read_iops_sec>`: read operations per second (extra spec `quota:disk_read_iops_sec`). */
  readIopsSec?: number;
  /** `<write_bytes_sec>`: write bandwidth limit, bytes per second (extra spec `quota:disk_write_bytes_sec`). */
  writeBytesSec?: number;
  /** `<write_iops_sec>`: write operations per second (extra spec `quota:disk_write_iops_sec`). */
  writeIopsSec?: number;
  /** `<total_bytes_sec>`: combined read and write bandwidth, bytes per second (extra spec `quota:disk_total_bytes_sec`); not allowed together with a read or write bytes limit. */
  totalBytesSec?: number;
  /** `<total_iops_sec>`: combined read and write operations per second (extra spec `quota:disk_total_iops_sec`); not allowed together with a read or write iops limit. */
  totalIopsSec?: number;
}

/**
 * The six flavor extra specs nova maps to `<iotune>`, each with its IoTune
 * field and libvirt element, in the order libvirt itself formats them (bytes
 * limits, then iops limits). That order matters to schema validators:
 * xmllint's RelaxNG cannot match nova's interleaved order (read_bytes,
 * read_iops, write_bytes, …) against libvirt's schema, though libvirt's own
 * parser accepts any order.
 *
 * @example
 * ```ts
 * const keys = IOTUNE_EXTRA_SPECS.map(([spec]) => spec); // 'quota:disk_total_bytes_sec', ...
 * ```
 */
export const IOTUNE_EXTRA_SPECS = [
  ['quota:disk_total_bytes_sec', 'totalBytesSec', 'total_bytes_sec'],
  ['quota:disk_read_bytes_sec', 'readBytesSec', 'read_bytes_sec'],
  ['quota:disk_write_bytes_sec', 'writeBytesSec', 'write_bytes_sec'],
  ['quota:disk_total_iops_sec', 'totalIopsSec', 'total_iops_sec'],
  ['quota:disk_read_iops_sec', 'readIopsSec', 'read_iops_sec'],
  ['quota:disk_write_iops_sec', 'writeIopsSec', 'write_iops_sec'],
] as const;

/**
 * qemu's largest throttle value (THROTTLE_VALUE_MAX); libvirt passes larger ones on and qemu refuses them.
 *
 * @example
 * ```ts
 * if (limit > IOTUNE_MAX) throw new Error('qemu would refuse this throttle value');
 * ```
 */
export const IOTUNE_MAX = 1e15;

/**
 * The I/O limits of a flavor's extra specs: exactly the six
 * `quota:disk_{read,write,total}_{bytes,iops}_sec` keys (nova's `disk_qos`);
 * every other key is ignored. Values are positive integers, as numbers or
 * decimal strings, at most {@link IOTUNE_MAX}. A total limit together with a
 * read or write limit of the same kind is refused, as qemu refuses it.
 *
 * @example
 * ```ts
 * ioTuneFromExtraSpecs({ 'quota:disk_read_bytes_sec': '10485760', 'hw:cpu_policy': 'dedicated' });
 * // { readBytesSec: 10485760 }
 * ```
 */
export function ioTuneFromExtraSpecs(extraSpecs: Readonly<Record<string, unknown>> | undefined): IoTune {
  if (extraSpecs === undefined) return {};
  if (typeof extraSpecs !== 'object' || extraSpecs === null || Array.isArray(extraSpecs)) {
    throw invalidArgument('an object of extra specs', 'extraSpecs', extraSpecs);
  }
  const tune: IoTune = {};
  for (const [key, field] of IOTUNE_EXTRA_SPECS) {
    if (!Object.hasOwn(extraSpecs, key)) continue;
    tune[field] = limit(key, extraSpecs[key]);
  }
  return checkIoTune(tune);
}

/**
 * Validates an {@link IoTune}: known fields only, positive integers up to
 * {@link IOTUNE_MAX}, no total limit beside a read or write one of its kind.
 * Returns a copy.
 *
 * @example
 * ```ts
 * checkIoTune({ totalIopsSec: 500 }); // { totalIopsSec: 500 }
 * ```
 */
export function checkIoTune(tune: IoTune): IoTune {
  if (typeof tune !== 'object' || tune === null || Array.isArray(tune)) throw invalidArgument('an IoTune object', 'iotune', tune);
  const known = new Set<string>(IOTUNE_EXTRA_SPECS.map(([, field]) => field));
  const copy: IoTune = {};
  for (const [field, value] of Object.entries(tune)) {
    if (!known.has(field)) throw invalidArgument('an IoTune field', 'iotune', field);
    if (value === undefined) continue;
    copy[field as keyof IoTune] = limit(`iotune.${field}`, value);
  }
  for (const kind of ['Bytes', 'Iops'] as const) {
    const total = copy[`total${kind}Sec`];
    const other = copy[`read${kind}Sec`] ?? copy[`write${kind}Sec`];
    if (total !== undefined && other !== undefined) {
      throw invalidArgument(`either a total or read/write ${kind.toLowerCase()} limit`, `iotune.total${kind}Sec`, total);
    }
  }
  return copy;
}

function limit(name: string, value: unknown): number {
  const n = typeof value === 'string' && /^[0-9]{1,16}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0 || n > IOTUNE_MAX) {
    throw invalidArgument(`a positive integer up to ${IOTUNE_MAX}`, name, value);
  }
  return n;
}
