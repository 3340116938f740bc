/**
 * From an image service to a new RBD volume, without nova's local raw copy
 * read back by `rbd import`: a raw image streams from the image service
 * straight into the volume (hash and byte count verified on the way); any
 * other format is downloaded once, verified, and converted by qemu-img
 * directly into the volume. Both write under a staging name renamed when
 * complete, so a failure or a killed process never leaves a volume under the
 * name. The rbd store makes its pool-held base images this way (RbdBaseImages).
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { abortError } from '../abort.js';
import { ImageBackendError, ImageRefusedError, RbdExistsError, invalidArgument, imageRefusedError } from '../errors.js';
import { rbdFilename } from '../qemu/QemuImg.js';
import type { ResourceLimits } from '../qemu/limits.js';
import { runQemuImg } from '../qemu/run.js';
import { DiskOpsLimiter } from './DiskOpsLimiter.js';
import { checkRecord, fetchToRaw, type FetchToRawOptions } from './fetchToRaw.js';
import { expectedHash, hasherFor, type ExpectedHash } from './imageHash.js';
import type { ImageRecord } from './ImageService.js';
import { verifyImageFile } from './verifyImageFile.js';

/** What an `importStream` reports. */
export interface StreamImportResult {
  /** The volume's size: all bytes the source yielded. */
  size: number;
  /** Bytes sent to the cluster. */
  bytesWritten: number;
  /** All-zero bytes not sent. */
  bytesSkipped: number;
}

/** The part of the RBD driver this needs (the RbdDriver contract: `importStream`, `createStaged`, `exists`). */
export interface StreamImportDriver {
  /** Creates `name` of `options.size` bytes from `source` with parallel aio writes; removes it on any failure. */
  importStream(
    source: AsyncIterable<Uint8Array>,
    name: string,
    options: { size: number; signal?: AbortSignal; onProgress?: (done: number, total: number) => void; concurrency?: number; pool?: string },
  ): Promise<StreamImportResult>;
  /** Creates volume `name` in `options.pool` through `fill`, which writes a staging image renamed to `name` once it resolves (removed if it fails). */
  createStaged<T>(name: string, fill: (staging: string) => Promise<T>, options?: { pool?: string }): Promise<T>;
  /** Whether volume `name` exists in `pool`. */
  exists(name: string, pool?: string): Promise<boolean>;
}

/** Where the new volume goes, and how qemu-img reaches the cluster. */
export interface RbdVolumeTarget {
  /** The driver (its `importStream`, `createStaged`, `exists`). */
  driver: StreamImportDriver;
  /** The pool of the new volume. */
  pool: string;
  /** The new volume's name (e.g. `<uuid>_disk`); it must not exist. */
  volume: string;
  /** Ceph user for qemu-img (without `client.`). */
  user?: string;
  /** ceph.conf for qemu-img. */
  conf?: string;
  /** Keyring for qemu-img when ceph.conf does not name it. */
  keyring?: string;
}

/** What {@link fetchToRbd} is asked to do. */
export interface FetchToRbdOptions extends Omit<FetchToRawOptions, 'target' | 'forceRawImages' | 'qemu'> {
  /** The volume to create. */
  rbd: RbdVolumeTarget;
  /** A local folder for a non-raw image's download (and a raw image's 1 MiB header probe); both are removed. */
  workDir: string;
  /** Writes in flight while streaming (importStream's `concurrency`). */
  concurrency?: number;
  /** Resource limits of `qemu-img info`/`convert`. */
  qemuLimits?: Partial<ResourceLimits>;
}

/** What {@link fetchToRbd} did. */
export interface FetchToRbdResult {
  /** The image's record as read. */
  image: ImageRecord;
  /** `stream`: raw bytes went straight into the volume; `convert`: downloaded once, converted into the volume. */
  via: 'stream' | 'convert';
  /** The image's format (the volume is raw). */
  sourceFormat: string;
  /** The volume's size, bytes. */
  virtualSize: number;
  /** Bytes downloaded. */
  downloadedBytes: number;
  /** The digest that was checked, or undefined when the record carried none. */
  verifiedHash?: ExpectedHash;
}

// Enough to hold every header the inspector reads from the front (qcow2,
// vmdk, vhdx, vdi, luks, gpt, mbr, and the ISO 9660 descriptors at 32 KiB).
const PROBE_BYTES = 1 << 20;
const UNLIMITED = new DiskOpsLimiter();

/**
 * Fetches image `imageId` into a new RBD volume.
 *
 * @example
 * ```ts
 * await fetchToRbd({ imageService: glance, context, imageId, maxSize, workDir: '/var/lib/nova/instances/_base',
 *   rbd: { driver, pool: 'vms', volume: `${uuid}_disk`, user: 'nova', conf: '/etc/ceph/ceph.conf' } });
 * ```
 * @throws what {@link fetchToRaw} throws; `RBD_EXISTS` when the volume exists.
 */
export async function fetchToRbd(options: FetchToRbdOptions): Promise<FetchToRbdResult> {
  const { imageService, context, imageId, signal, rbd } = options;
  if (rbd === null || typeof rbd !== 'object' || typeof rbd.driver?.importStream !== 'function') throw invalidArgument('an RBD target with a driver', 'rbd', rbd);
  if (typeof options.workDir !== 'string' || !options.workDir.startsWith('/')) throw invalidArgument('an absolute path', 'workDir', options.workDir);
  const image = options.image ?? (await imageService.get(context, imageId, signal ? { signal } : {}));
  checkRecord(image, imageId, options.maxSize);
  if (await rbd.driver.exists(rbd.volume, rbd.pool)) {
    throw new RbdExistsError(`volume ${rbd.pool}/${rbd.volume} already exists`, { operation: 'fetchToRbd', pool: rbd.pool, image: rbd.volume });
  }
  const raw = image.disk_format === 'raw' || image.disk_format === 'iso';
  if (raw && typeof image.size === 'number') return stream(options, image);
  return convert(options, image);
}

async function stream(options: FetchToRbdOptions, image: ImageRecord): Promise<FetchToRbdResult> {
  const { imageService, context, imageId, signal, rbd } = options;
  const size = image.size as number;
  const expected = expectedHash(image);
  const hasher = hasherFor(expected);
  const diskOps = options.diskOps ?? UNLIMITED;
  let downloaded = 0;
  return diskOps.run(
    async () => {
      const download = (await imageService.download(context, imageId, signal ? { signal } : {}))[Symbol.asyncIterator]();
      try {
        // The front of the image, inspected before any byte reaches the cluster.
        const head: Uint8Array[] = [];
        let headBytes = 0;
        let ended = false;
        while (headBytes < PROBE_BYTES) {
          const next = await download.next();
          if (next.done) {
            ended = true;
            break;
          }
          head.push(next.value);
          headBytes += next.value.length;
        }
        await probe(options, image, Buffer.concat(head));
        const source = (async function* () {
          for (const chunk of head) {
            hasher?.update(chunk);
            downloaded += chunk.length;
            yield chunk;
          }
          while (!ended) {
            const next = await download.next();
            if (next.done) break;
            hasher?.update(next.value);
            downloaded += next.value.length;
            yield next.value;
          }
          // Before the import completes: a wrong digest fails it and the volume is removed.
          if (expected && hasher) {
            const got = hasher.digest('hex');
            if (got !== expected.value) {
              throw imageRefusedError('IMAGE_CHECKSUM_MISMATCH', `image ${imageId}'s bytes do not match its ${expected.field} (${expected.algorithm})`, imageId, {
                operation: 'fetchToRbd',
                pool: rbd.pool,
                image: rbd.volume,
              });
            }
          }
        })();
        const progress = options.onProgress;
        await rbd.driver.importStream(source, rbd.volume, {
          size,
          pool: rbd.pool,
          ...(signal ? { signal } : {}),
          ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
          ...(progress ? { onProgress: (done: number, total: number) => progress({ phase: 'download', bytes: done, total }) } : {}),
        });
      } catch (error) {
        throw sizeError(error, imageId, size, downloaded);
      } finally {
        await download.return?.().catch(() => undefined);
      }
      return { image, via: 'stream' as const, sourceFormat: 'raw', virtualSize: size, downloadedBytes: downloaded, ...(expected ? { verifiedHash: expected } : {}) };
    },
    { ...(signal ? { signal } : {}), name: 'download' },
  );
}

// importStream reports a source of the wrong length as its own error; say what it means here.
function sizeError(error: unknown, imageId: string, size: number, downloaded: number): unknown {
  if (error instanceof ImageBackendError && error.code !== 'ABORTED' && !(error instanceof ImageRefusedError) && downloaded !== size && /size|short|long|bytes/i.test(error.message)) {
    return imageRefusedError('IMAGE_SIZE_MISMATCH', `image ${imageId} should be ${size} bytes but the download gave ${downloaded}: ${error.message}`, imageId, { operation: 'fetchToRbd', cause: error });
  }
  return error;
}

/** Deep inspection of a raw image's first bytes: no qcow2 (or ISO, VMDK...) claiming to be raw. */
async function probe(options: FetchToRbdOptions, image: ImageRecord, head: Buffer): Promise<void> {
  const path = join(options.workDir, `.probe-${options.rbd.volume}-${randomBytes(6).toString('hex')}`);
  // Whole 512-byte sectors: qemu-img rounds a raw file's size up to one, the
  // inspector does not, and the two must agree on the probe.
  const n = Math.min(head.length, PROBE_BYTES);
  const sectors = Math.max(512, n - (n % 512));
  const probeBytes = Buffer.alloc(sectors);
  head.copy(probeBytes, 0, 0, Math.min(n, sectors));
  await writeFile(path, probeBytes, { flag: 'wx', mode: 0o600 });
  try {
    await verifyImageFile(
      path,
      { imageId: options.imageId, diskFormat: image.disk_format!, ...(options.vmdkAllowedTypes ? { vmdkAllowedTypes: options.vmdkAllowedTypes } : {}) },
      {
        ...(options.inspect ? { inspect: options.inspect } : {}),
        qemuInfo: async (p, format) => {
          const { stdout } = await runQemuImg(['info', '-f', format, '--output=json', p], { ...(options.signal ? { signal: options.signal } : {}), ...(options.qemuLimits ? { limits: options.qemuLimits } : {}) });
          const parsed = JSON.parse(stdout) as { format: string; 'virtual-size': number; 'backing-filename'?: string };
          return {
            filename: p,
            format: parsed.format,
            virtualSize: parsed['virtual-size'],
            ...(parsed['backing-filename'] ? { backingFilename: parsed['backing-filename'] } : {}),
            dirty: false,
            encrypted: false,
            snapshots: [],
          };
        },
      },
    );
  } finally {
    await rm(path, { force: true });
  }
}

async function convert(options: FetchToRbdOptions, image: ImageRecord): Promise<FetchToRbdResult> {
  const { rbd, signal } = options;
  const local = join(options.workDir, `${rbd.volume}.download-${randomBytes(6).toString('hex')}`);
  const diskOps = options.diskOps ?? UNLIMITED;
  try {
    // Downloaded and verified once, in the image's own format (a qcow2 is its data, not its virtual size).
    const fetched = await fetchToRaw({ ...options, image, target: local, forceRawImages: false });
    const into = (name: string) =>
      rbdFilename({
        pool: rbd.pool,
        image: name,
        ...(rbd.user !== undefined ? { user: rbd.user } : {}),
        ...(rbd.conf !== undefined ? { conf: rbd.conf } : {}),
        ...(rbd.keyring !== undefined ? { keyring: rbd.keyring } : {}),
      });
    // qemu-img writes a staging image, renamed to the volume's name only when
    // complete: a killed conversion never leaves a partial volume under it.
    await diskOps.run(
      () =>
        rbd.driver.createStaged(
          rbd.volume,
          async (staging) => {
            await runQemuImg(['convert', '-f', fetched.format, '-O', 'raw', local, into(staging)], {
              limits: { cpuSeconds: 0, addressSpaceBytes: 8 * 2 ** 30, ...(options.qemuLimits ?? {}) },
              timeoutMs: 0,
              ...(signal ? { signal } : {}),
            });
            if (signal?.aborted) throw abortError('fetchToRbd', { cause: signal.reason });
          },
          { pool: rbd.pool },
        ),
      { ...(signal ? { signal } : {}), name: 'convert' },
    );
    return {
      image,
      via: 'convert',
      sourceFormat: fetched.sourceFormat,
      virtualSize: fetched.virtualSize,
      downloadedBytes: fetched.downloadedBytes,
      ...(fetched.verifiedHash ? { verifiedHash: fetched.verifiedHash } : {}),
    };
  } finally {
    await rm(local, { force: true }).catch(() => undefined);
  }
}
