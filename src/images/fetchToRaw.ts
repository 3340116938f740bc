/**
 * nova's `images.fetch_to_raw`: from an image service to a safe file. The
 * record first (active, small enough), then a streaming download with the
 * hash and the byte count checked on the way, deep inspection (the declared
 * format, safety, qemu-img agreeing), a conversion to raw when asked, and
 * only then the rename into place. Every refusal is a typed error; nothing
 * this wrote is left behind.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';

import { abortError } from '../abort.js';
import type { FetchFunction } from '../cache/BaseImageCache.js';
import { ImageBackendError, ImageRefusedError, invalidArgument, imageRefusedError } from '../errors.js';
import { fsyncFile } from '../fsutil/atomic.js';
import type { ImageInfo } from '../image/inspect.js';
import type { QemuImgInfo } from '../qemu/info.js';
import { QemuImg } from '../qemu/QemuImg.js';
import type { ResourceLimits } from '../qemu/limits.js';
import { DiskOpsLimiter } from './DiskOpsLimiter.js';
import { expectedHash, hasherFor, type ExpectedHash } from './imageHash.js';
import type { ImageRecord, ImageService } from './ImageService.js';
import { SparseFileWriter } from './SparseFileWriter.js';
import { DEFAULT_VMDK_ALLOWED_TYPES, verifyImageFile } from './verifyImageFile.js';

/** The qemu-img operations the pipeline runs ({@link QemuImg} has them). */
export interface PipelineQemu {
  /** `qemu-img info -f <format>`. */
  info(path: string, options: { format: string; signal?: AbortSignal }): Promise<QemuImgInfo>;
  /** `qemu-img convert` to raw. */
  convert(src: string, dst: string, options: { srcFormat: string; dstFormat: string; signal?: AbortSignal; limits?: Partial<ResourceLimits>; onProgress?: (percent: number) => void }): Promise<void>;
}

/** How far {@link fetchToRaw} is. */
export type FetchProgress =
  | {
      /** Bytes are arriving. */
      phase: 'download';
      /** Bytes received so far. */
      bytes: number;
      /** The record's `size`, when known. */
      total?: number;
    }
  | {
      /** qemu-img is converting to raw. */
      phase: 'convert';
      /** 0-100. */
      percent: number;
    };

/** What {@link fetchToRaw} is asked to do. */
export interface FetchToRawOptions {
  /** Where the image comes from. */
  imageService: ImageService;
  /** The caller's request context, passed to the image service (a token may come from it). */
  context: unknown;
  /** The image to fetch. */
  imageId: string;
  /** The file to create; it must not exist (the pipeline writes `<target>.part-*` and renames). */
  target: string;
  /** The largest acceptable virtual size in bytes (the disk's size), checked before any byte moves when the record knows it. */
  maxSize?: number;
  /** The image's record when the caller already has it (nothing is asked twice). */
  image?: ImageRecord;
  /** Aborts; what was written is removed. */
  signal?: AbortSignal;
  /** Download bytes and convert percentages. */
  onProgress?: (progress: FetchProgress) => void;
  /** nova's `force_raw_images` (default true): a non-raw image is converted to raw. */
  forceRawImages?: boolean;
  /** nova's `[image] vmdk_allowed_types`; default `streamOptimized`, `monolithicSparse`. */
  vmdkAllowedTypes?: readonly string[];
  /** Resource limits of the conversion (qemu-img convert's defaults otherwise). */
  convertLimits?: Partial<ResourceLimits>;
  /** nova's `max_concurrent_disk_ops`: the download and the conversion each wait for a turn. Default: unlimited. */
  diskOps?: DiskOpsLimiter;
  /** qemu-img (default a {@link QemuImg} with its defaults). */
  qemu?: PipelineQemu;
  /** The native inspector (default the library's `inspect`); for tests. */
  inspect?: (path: string) => Promise<ImageInfo>;
}

/** What {@link fetchToRaw} produced. */
export interface FetchToRawResult {
  /** The image's record as read. */
  image: ImageRecord;
  /** The format of the file at `target`: `raw` unless `forceRawImages` was false. */
  format: string;
  /** The format the image came in. */
  sourceFormat: string;
  /** Guest-visible size of the file, bytes. */
  virtualSize: number;
  /** Bytes downloaded. */
  downloadedBytes: number;
  /** The digest that was checked, or undefined when the record carried none. */
  verifiedHash?: ExpectedHash;
  /** True when the image was converted to raw. */
  converted: boolean;
}

const UNLIMITED = new DiskOpsLimiter();

/**
 * Fetches image `imageId` into `target` as nova's `fetch_to_raw` does.
 *
 * @example
 * ```ts
 * const result = await fetchToRaw({ imageService: glance, context, imageId, target: '/var/lib/nova/instances/_base/abc',
 *   maxSize: 20 * 2 ** 30, signal });
 * console.log(result.sourceFormat, '->', result.format, result.virtualSize);
 * ```
 * @throws {@link ImageRefusedError} (`IMAGE_NOT_ACTIVE`, `IMAGE_TOO_LARGE`, `IMAGE_CHECKSUM_MISMATCH`,
 *   `IMAGE_SIZE_MISMATCH`, `IMAGE_FORMAT_MISMATCH`), {@link ImageUnsafeError} (`IMAGE_UNSAFE`),
 *   {@link ImageServiceError}, `QEMU_*`, `ABORTED`.
 */
export async function fetchToRaw(options: FetchToRawOptions): Promise<FetchToRawResult> {
  const { imageService, context, imageId, target, signal } = options;
  if (imageService === null || typeof imageService !== 'object') throw invalidArgument('an image service', 'imageService', imageService);
  if (typeof imageId !== 'string' || imageId === '') throw invalidArgument('an image id', 'imageId', imageId);
  if (typeof target !== 'string' || !target.startsWith('/')) throw invalidArgument('an absolute path', 'target', target);
  const maxSize = options.maxSize;
  if (maxSize !== undefined && !(Number.isSafeInteger(maxSize) && maxSize >= 0)) throw invalidArgument('a byte count', 'maxSize', maxSize);
  const diskOps = options.diskOps ?? UNLIMITED;
  const qemu = options.qemu ?? new QemuImg();
  const forceRaw = options.forceRawImages ?? true;

  const image = options.image ?? (await imageService.get(context, imageId, signal ? { signal } : {}));
  checkRecord(image, imageId, maxSize);
  const diskFormat = image.disk_format!;

  const part = `${target}.part-${randomBytes(6).toString('hex')}`;
  const converted = `${part}.converted`;
  try {
    const { bytes, hash } = await diskOps.run(() => download(options, image, part), { ...(signal ? { signal } : {}), name: 'download' });
    const check = { imageId, diskFormat, vmdkAllowedTypes: options.vmdkAllowedTypes ?? DEFAULT_VMDK_ALLOWED_TYPES };
    const tools = {
      qemuInfo: (path: string, format: string) => qemu.info(path, { format, ...(signal ? { signal } : {}) }),
      ...(options.inspect ? { inspect: options.inspect } : {}),
    };
    const info = await verifyImageFile(part, check, tools);
    checkVirtualSize(info.virtualSize, imageId, maxSize);
    let result = part;
    let format: string = info.format;
    if (forceRaw && info.format !== 'raw') {
      await diskOps.run(
        () =>
          qemu.convert(part, converted, {
            srcFormat: info.format,
            dstFormat: 'raw',
            ...(signal ? { signal } : {}),
            ...(options.convertLimits ? { limits: options.convertLimits } : {}),
            ...(options.onProgress ? { onProgress: (percent: number) => options.onProgress!({ phase: 'convert', percent }) } : {}),
          }),
        { ...(signal ? { signal } : {}), name: 'convert' },
      );
      await rm(part, { force: true });
      // What qemu-img wrote is checked like a download: raw, safe, the same size.
      const after = await verifyImageFile(converted, { ...check, diskFormat: 'raw' }, tools);
      if (after.virtualSize !== info.virtualSize) {
        throw imageRefusedError('IMAGE_FORMAT_MISMATCH', `image ${imageId} converted to ${after.virtualSize} bytes, not ${info.virtualSize}`, imageId, { operation: 'fetchToRaw', path: converted });
      }
      result = converted;
      format = 'raw';
    }
    signal?.throwIfAborted();
    await fsyncFile(result);
    await rename(result, target);
    return {
      image,
      format,
      sourceFormat: info.format,
      virtualSize: info.virtualSize,
      downloadedBytes: bytes,
      ...(hash ? { verifiedHash: hash } : {}),
      converted: result === converted,
    };
  } catch (error) {
    await rm(part, { force: true }).catch(() => undefined);
    await rm(converted, { force: true }).catch(() => undefined);
    if (signal?.aborted && !(error instanceof ImageBackendError && error.code === 'ABORTED')) throw abortError('fetchToRaw', { path: target, cause: signal.reason });
    throw error;
  }
}

/**
 * A `fetch` for `disk.cache({ fetch, ... })` that runs this pipeline: the
 * small change that puts the image service behind today's Backend API.
 *
 * @example
 * ```ts
 * await disk.cache({ fetch: imageServiceFetch({ imageService: glance, context, imageId }), filename: cacheFileName(imageId), imageId, size });
 * ```
 */
export function imageServiceFetch(options: Omit<FetchToRawOptions, 'target' | 'maxSize' | 'signal'>): FetchFunction {
  return async ({ target, maxSize, signal }) => {
    await fetchToRaw({ ...options, target, ...(maxSize !== undefined ? { maxSize } : {}), signal });
  };
}

function refused(code: 'IMAGE_NOT_ACTIVE' | 'IMAGE_TOO_LARGE' | 'IMAGE_FORMAT_MISMATCH', message: string, imageId: string): ImageRefusedError {
  return imageRefusedError(code, message, imageId, { operation: 'fetchToRaw' });
}

/** The record's verdict, before any byte moves. */
export function checkRecord(image: ImageRecord, imageId: string, maxSize: number | undefined): void {
  if (image === null || typeof image !== 'object') throw refused('IMAGE_NOT_ACTIVE', `image ${imageId} has no record`, imageId);
  if (image.status !== 'active') throw refused('IMAGE_NOT_ACTIVE', `image ${imageId} is ${String(image.status ?? 'without a status')}, not active`, imageId);
  if (typeof image.disk_format !== 'string' || image.disk_format === '') throw refused('IMAGE_FORMAT_MISMATCH', `image ${imageId} has no disk_format`, imageId);
  if (typeof image.virtual_size === 'number') checkVirtualSize(image.virtual_size, imageId, maxSize);
  // A raw image's stored bytes are its virtual size.
  if (image.disk_format === 'raw' && typeof image.size === 'number') checkVirtualSize(image.size, imageId, maxSize);
}

function checkVirtualSize(virtualSize: number, imageId: string, maxSize: number | undefined): void {
  if (maxSize !== undefined && maxSize > 0 && virtualSize > maxSize) {
    throw refused('IMAGE_TOO_LARGE', `image ${imageId} has a virtual size of ${virtualSize} bytes, more than the ${maxSize} the disk allows`, imageId);
  }
}

async function download(options: FetchToRawOptions, image: ImageRecord, part: string): Promise<{ bytes: number; hash: ExpectedHash | undefined }> {
  const { imageService, context, imageId, signal, onProgress } = options;
  const expected = expectedHash(image);
  const hasher = hasherFor(expected);
  const size = typeof image.size === 'number' ? image.size : undefined;
  const wrongSize = (got: string) =>
    imageRefusedError('IMAGE_SIZE_MISMATCH', `image ${imageId} should be ${size} bytes but the download ${got}`, imageId, { operation: 'fetchToRaw', path: part });
  const out = await SparseFileWriter.create(part);
  try {
    const stream = await imageService.download(context, imageId, signal ? { signal } : {});
    for await (const chunk of stream) {
      if (signal?.aborted) throw abortError('download', { path: part, cause: signal.reason });
      hasher?.update(chunk);
      await out.write(chunk);
      if (size !== undefined && out.bytes > size) throw wrongSize('is longer');
      onProgress?.({ phase: 'download', bytes: out.bytes, ...(size !== undefined ? { total: size } : {}) });
    }
    await out.finish();
  } finally {
    await out.close();
  }
  if (size !== undefined && out.bytes !== size) throw wrongSize(`ended after ${out.bytes}`);
  if (expected && hasher) {
    const got = hasher.digest('hex');
    if (got !== expected.value) {
      throw imageRefusedError(
        'IMAGE_CHECKSUM_MISMATCH',
        `image ${imageId}'s bytes do not match its ${expected.field} (${expected.algorithm} ${expected.value.slice(0, 16)}..., got ${got.slice(0, 16)}...)`,
        imageId,
        { operation: 'fetchToRaw', path: part },
      );
    }
  }
  return { bytes: out.bytes, hash: expected };
}
