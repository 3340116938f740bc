/**
 * The typed answer of `qemu-img info --output=json`, validated field by field:
 * qemu-img describes an untrusted image, so nothing is taken on trust.
 */
import { InvalidDiskInfoError } from '../errors.js';

/** One internal snapshot listed by `qemu-img info`. */
export interface QemuImgSnapshot {
  /** The snapshot's id (qemu-img's `id`). */
  id: string;
  /** The snapshot's name (qemu-img's `name`). */
  name: string;
  /** Bytes of saved VM state in the snapshot (`vm-state-size`); 0 for a disk-only snapshot. */
  vmStateSize: number;
}

/** `qemu-img info --output=json`, parsed and checked (nova's `QemuImgInfo`). */
export interface QemuImgInfo {
  /** The image's file name as qemu-img reports it (`filename`); the path asked about when absent. */
  filename: string;
  /** The format qemu-img was told (it is never asked to probe). */
  format: string;
  /** Guest-visible size in bytes (`virtual-size`). */
  virtualSize: number;
  /** Bytes allocated on the host, when qemu-img knows. */
  actualSize?: number;
  /** Cluster size in bytes (`cluster-size`), for formats that have one. */
  clusterSize?: number;
  /** The backing file as recorded in the image (`backing-filename`). */
  backingFilename?: string;
  /** The backing file resolved against the image's directory (`full-backing-filename`). */
  fullBackingFilename?: string;
  /** The backing file's recorded format (`backing-filename-format`). */
  backingFormat?: string;
  /** qcow2's external data file, when there is one (a safety concern). */
  dataFile?: string;
  /** The image's dirty flag is set: it was not closed cleanly (`dirty-flag`). */
  dirty: boolean;
  /** The image is encrypted (`encrypted`). */
  encrypted: boolean;
  /** Internal snapshots (qcow2); empty when none. */
  snapshots: QemuImgSnapshot[];
  /** `format-specific` as qemu-img gave it ({ type, data }). */
  formatSpecific?: {
    /** The format the details are about, e.g. `qcow2`. */
    type: string;
    /** The details as qemu-img gave them, e.g. qcow2's `compat`, `lazy-refcounts`, `data-file`. */
    data: Record<string, unknown>;
  };
}

function fail(path: string, why: string): never {
  throw new InvalidDiskInfoError(`qemu-img info for ${path} is unusable: ${why}`, {
    operation: 'qemu-img info',
    path,
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function optString(path: string, o: Record<string, unknown>, key: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') fail(path, `${key} is not a string`);
  return v;
}

function optSize(path: string, o: Record<string, unknown>, key: string): number | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(path, `${key} is not a byte count`);
  return v;
}

/** One image object of the JSON. */
export function parseInfoObject(path: string, o: unknown): QemuImgInfo {
  if (!isObject(o)) fail(path, 'not a JSON object');
  const format = optString(path, o, 'format');
  const virtualSize = optSize(path, o, 'virtual-size');
  if (format === undefined) fail(path, 'no format');
  if (virtualSize === undefined) fail(path, 'no virtual-size');
  const info: QemuImgInfo = {
    filename: optString(path, o, 'filename') ?? path,
    format,
    virtualSize,
    dirty: o['dirty-flag'] === true,
    encrypted: o.encrypted === true,
    snapshots: [],
  };
  const actualSize = optSize(path, o, 'actual-size');
  if (actualSize !== undefined) info.actualSize = actualSize;
  const clusterSize = optSize(path, o, 'cluster-size');
  if (clusterSize !== undefined) info.clusterSize = clusterSize;
  const backing = optString(path, o, 'backing-filename');
  if (backing !== undefined) info.backingFilename = backing;
  const fullBacking = optString(path, o, 'full-backing-filename');
  if (fullBacking !== undefined) info.fullBackingFilename = fullBacking;
  const backingFormat = optString(path, o, 'backing-filename-format');
  if (backingFormat !== undefined) info.backingFormat = backingFormat;
  const specific = o['format-specific'];
  if (isObject(specific) && typeof specific.type === 'string' && isObject(specific.data)) {
    info.formatSpecific = { type: specific.type, data: specific.data };
    const dataFile = specific.data['data-file'];
    if (typeof dataFile === 'string') info.dataFile = dataFile;
  }
  const snapshots = o.snapshots;
  if (snapshots !== undefined) {
    if (!Array.isArray(snapshots)) fail(path, 'snapshots is not an array');
    for (const s of snapshots) {
      if (!isObject(s)) fail(path, 'a snapshot is not an object');
      info.snapshots.push({
        id: optString(path, s, 'id') ?? '',
        name: optString(path, s, 'name') ?? '',
        vmStateSize: optSize(path, s, 'vm-state-size') ?? 0,
      });
    }
  }
  return info;
}

/** The whole stdout: one object, or an array of them with --backing-chain. */
export function parseInfo(path: string, stdout: string, chain: boolean): QemuImgInfo[] {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    fail(path, 'not JSON');
  }
  if (chain) {
    if (!Array.isArray(json) || json.length === 0) fail(path, 'the backing chain is not a non-empty array');
    return json.map((o) => parseInfoObject(path, o));
  }
  return [parseInfoObject(path, json)];
}
