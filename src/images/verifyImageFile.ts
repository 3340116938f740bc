/**
 * nova's deep inspection of a downloaded image (images.fetch_to_raw with the
 * format_inspector): the bytes must be the format the record declares, safe
 * (no backing file, no data file, no external extents, an allowed VMDK
 * create-type) and qemu-img must read them the same way the native
 * inspector does.
 */
import { ImageUnsafeError, imageRefusedError } from '../errors.js';
import { inspect, type ImageFormat, type ImageInfo } from '../image/inspect.js';
import type { QemuImgInfo } from '../qemu/info.js';

/** nova's default `[image] vmdk_allowed_types`. */
export const DEFAULT_VMDK_ALLOWED_TYPES: readonly string[] = Object.freeze(['streamOptimized', 'monolithicSparse']);

/** The tools the check runs (defaults: the native inspector; qemu-img is the caller's). */
export interface VerifyTools {
  /** Native header inspection. */
  inspect?: (path: string) => Promise<ImageInfo>;
  /** `qemu-img info -f <format>` of the file. */
  qemuInfo: (path: string, format: string) => Promise<QemuImgInfo>;
}

/** What {@link verifyImageFile} checks the file against. */
export interface VerifyOptions {
  /** The image's id, for errors. */
  imageId: string;
  /** Glance's `disk_format` of the image. */
  diskFormat: string;
  /** VMDK create-types accepted; default {@link DEFAULT_VMDK_ALLOWED_TYPES}. */
  vmdkAllowedTypes?: readonly string[];
}

// Glance's disk_format -> the format the bytes must show (qemu's names).
const EXPECTED: Record<string, ImageFormat> = {
  raw: 'raw',
  iso: 'raw',
  aki: 'raw',
  ari: 'raw',
  ami: 'raw',
  qcow2: 'qcow2',
  vmdk: 'vmdk',
  vhd: 'vpc',
  vhdx: 'vhdx',
  vdi: 'vdi',
};

// What a raw image's bytes may also look like and still be raw: a partition table.
const RAW_HINTS_OK = new Set(['gpt', 'mbr']);

/**
 * The qemu format of a Glance `disk_format`, or undefined when the pipeline
 * cannot take it (ploop, docker...).
 *
 * @example
 * ```ts
 * qemuFormatOf('vhd') // 'vpc'
 * ```
 */
export function qemuFormatOf(diskFormat: string | undefined): ImageFormat | undefined {
  return diskFormat === undefined ? undefined : EXPECTED[diskFormat];
}

/**
 * Inspects `path` and refuses it unless it is what the record says and safe.
 * Resolves with the native inspector's reading.
 *
 * @example
 * ```ts
 * const info = await verifyImageFile(part, { imageId, diskFormat: 'qcow2' }, { qemuInfo: (p, f) => qemu.info(p, { format: f }) });
 * ```
 * @throws {@link ImageRefusedError} `IMAGE_FORMAT_MISMATCH`; {@link ImageUnsafeError} `IMAGE_UNSAFE`.
 */
export async function verifyImageFile(path: string, options: VerifyOptions, tools: VerifyTools): Promise<ImageInfo> {
  const { imageId, diskFormat } = options;
  const mismatch = (why: string) =>
    imageRefusedError('IMAGE_FORMAT_MISMATCH', `image ${imageId} is refused: ${why}`, imageId, { operation: 'fetchToRaw', path });
  const unsafe = (reasons: string[]) =>
    new ImageUnsafeError(`image ${imageId} is unsafe: ${reasons.join('; ')}`, { reasons, operation: 'fetchToRaw', path });

  const expected = qemuFormatOf(diskFormat);
  if (expected === undefined) throw mismatch(`disk_format '${diskFormat}' is not one this host can use`);
  const info = await (tools.inspect ?? inspect)(path);
  if (info.format !== expected) throw mismatch(`disk_format is '${diskFormat}' but the bytes are ${info.format}`);
  if (expected === 'raw') {
    const hints = info.contentHints ?? [];
    if (diskFormat === 'iso') {
      if (!hints.includes('iso')) throw mismatch(`disk_format is 'iso' but the bytes are no ISO 9660 image`);
    } else {
      // A bootable hybrid ISO also carries an MBR: it is an ISO, not a raw disk.
      const odd = hints.filter((h) => !RAW_HINTS_OK.has(h));
      if (odd.length > 0) throw mismatch(`disk_format is '${diskFormat}' but the bytes look like ${odd.join(', ')}`);
    }
  }
  if (!info.safety.safe) throw unsafe(info.safety.reasons);
  if (info.encrypted) throw unsafe(['encrypted']);
  if (info.format === 'vmdk') {
    const allowed = options.vmdkAllowedTypes ?? DEFAULT_VMDK_ALLOWED_TYPES;
    const type = info.formatSpecific.data.createType;
    if (typeof type !== 'string' || !allowed.includes(type)) throw unsafe([`vmdk create-type '${String(type)}' is not allowed (allowed: ${allowed.join(', ') || 'none'})`]);
  }
  // qemu-img, told the format, must read the same image (a parser differential is an attack surface).
  const qemu = await tools.qemuInfo(path, info.format);
  if (qemu.format !== info.format) throw mismatch(`qemu-img reads it as ${qemu.format}, the inspector as ${info.format}`);
  if (qemu.virtualSize !== info.virtualSize) throw mismatch(`qemu-img reads a virtual size of ${qemu.virtualSize} bytes, the inspector ${info.virtualSize}`);
  const qemuReasons = [
    ...(qemu.backingFilename !== undefined ? [`backing file: '${qemu.backingFilename}'`] : []),
    ...(qemu.dataFile !== undefined ? [`external data file: '${qemu.dataFile}'`] : []),
  ];
  if (qemuReasons.length > 0) throw unsafe(qemuReasons);
  return info;
}
