/**
 * Streams bytes that are not a local file (an image service download) into a
 * new RBD image: several aio writes in flight, all-zero runs skipped (a fresh
 * image reads zeros), crash-safe through a staging name (see staging.ts), and
 * nothing left behind on failure, abort, or a source that throws.
 */
import { abortError } from '../abort.js';
import { ImageBackendError, ImageIoError, invalidArgument } from '../errors.js';
import type { NativeLayout, NativeWriterHandle } from '../native.js';
import { checkRbdName } from '../names.js';
import { rbdCall, toRbdError } from './errors.js';
import type { RbdPool } from './RbdPool.js';
import { commitStaged, discardStaged, nameTaken, stagingName, sweepStaging } from './staging.js';

/** Options of {@link RbdPool.importStream} and of `RbdDriver.importStream` in `imagebackend/nova`. */
export interface RbdStreamImportOptions extends NativeLayout {
  /**
   * Size of the new image in bytes: exactly what the source yields (a shorter
   * or longer source fails). A number, unlike the other RBD sizes: every byte
   * passes through this process, and 2^53 of them would take weeks.
   */
  size: number;
  /** Aborting stops the import (also while waiting for the source); the image is removed. */
  signal?: AbortSignal;
  /** Called as writes complete with bytes accounted for (written or skipped) and `size`; exceptions are ignored. */
  onProgress?: (done: number, total: number) => void;
  /** Writes in flight at once, 1–64. Default 8. */
  concurrency?: number;
  /** Bytes per write, a multiple of 64 KiB up to 64 MiB. Default 4 MiB (one RBD object). */
  chunkSize?: number;
}

/** What {@link RbdPool.importStream} did. */
export interface RbdStreamImportResult {
  /** The image's size: all bytes the source yielded. */
  size: number;
  /** Bytes sent to the cluster. */
  bytesWritten: number;
  /** All-zero bytes not sent (a fresh image reads them as zeros anyway). */
  bytesSkipped: number;
}

const MiB = 1 << 20;

/** @internal The implementation of {@link RbdPool.importStream}. */
export async function importStream(
  pool: RbdPool,
  name: string,
  source: AsyncIterable<Uint8Array>,
  options: RbdStreamImportOptions,
): Promise<RbdStreamImportResult> {
  const operation = 'importStream';
  checkRbdName(name, 'image');
  const { size, signal, onProgress, concurrency = 8, chunkSize = 4 * MiB, ...layout } = options ?? ({} as never);
  if (!Number.isSafeInteger(size) || size < 0) throw invalidArgument('a non-negative integer', 'size', size);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw invalidArgument('an integer from 1 to 64', 'concurrency', concurrency);
  }
  if (!Number.isInteger(chunkSize) || chunkSize < 64 * 1024 || chunkSize > 64 * MiB || chunkSize % (64 * 1024) !== 0) {
    throw invalidArgument('a multiple of 64 KiB up to 64 MiB', 'chunkSize', chunkSize);
  }
  if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source)) {
    throw invalidArgument('an async iterable of Uint8Array', 'source', source);
  }
  if (signal?.aborted) throw abortError(operation, { cause: signal.reason });

  const { addon, handle } = pool.cluster.native;
  await sweepStaging(pool, name);
  if (await pool.image(name).exists()) throw nameTaken(pool, name, operation);
  const staging = stagingName(name);
  await rbdCall(operation, () => addon.rbdCreate(handle, pool.name, staging, size, layout));

  let writer: NativeWriterHandle | undefined;
  const inflight = new Set<Promise<void>>();
  let failure: ImageBackendError | undefined;
  let written = 0;
  let skipped = 0;
  const submit = (bytes: Uint8Array, offset: number) => {
    const write = addon.rbdWriterWrite(writer!, offset, bytes).then(
      (done) => {
        written += done.written;
        skipped += done.skipped;
        try {
          onProgress?.(written + skipped, size);
        } catch {
          // a throwing progress callback must not break the import
        }
      },
      (error: unknown) => {
        failure ??= toRbdError(error, operation);
      },
    );
    inflight.add(write);
    void write.finally(() => inflight.delete(write));
  };

  const iterator = source[Symbol.asyncIterator]();
  let exhausted = false;
  try {
    writer = await rbdCall(operation, () => addon.rbdWriterOpen(handle, pool.name, staging));
    let offset = 0; // bytes handed to submit()
    let chunk = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(size, 1)));
    let fill = 0;
    for (;;) {
      const next = await untilAborted(iterator.next(), signal, operation);
      if (next.done) {
        exhausted = true;
        break;
      }
      const piece = next.value as unknown;
      if (!(piece instanceof Uint8Array)) {
        throw invalidArgument('Uint8Array chunks', 'source', piece);
      }
      if (offset + fill + piece.length > size) {
        throw new ImageIoError(`${operation}: the source yields more than the ${size} bytes announced`, {
          operation,
          pool: pool.name,
          image: name,
        });
      }
      for (let used = 0; used < piece.length; ) {
        const n = Math.min(piece.length - used, chunk.length - fill);
        chunk.set(piece.subarray(used, used + n), fill);
        fill += n;
        used += n;
        if (fill === chunk.length) {
          submit(chunk, offset);
          offset += fill;
          chunk = Buffer.allocUnsafe(Math.min(chunkSize, Math.max(size - offset, 1)));
          fill = 0;
          while (inflight.size >= concurrency) await Promise.race(inflight);
          if (failure) throw failure;
        }
      }
    }
    if (fill > 0) {
      submit(chunk.subarray(0, fill), offset);
      offset += fill;
    }
    await Promise.all(inflight);
    if (failure) throw failure;
    if (signal?.aborted) throw abortError(operation, { cause: signal.reason });
    if (offset !== size) {
      throw new ImageIoError(`${operation}: the source ended after ${offset} of ${size} bytes`, {
        operation,
        pool: pool.name,
        image: name,
      });
    }
    const closing = writer;
    writer = undefined;
    await rbdCall(operation, () => addon.rbdWriterClose(closing));
    await commitStaged(pool, staging, name, operation);
    return { size, bytesWritten: written, bytesSkipped: skipped };
  } catch (error) {
    await Promise.allSettled(inflight);
    if (writer) await addon.rbdWriterClose(writer).catch(() => undefined);
    await discardStaged(pool, staging);
    // Tell the source to stop, without waiting: a stalled source would hang the clean-up.
    if (!exhausted) {
      try {
        void Promise.resolve(iterator.return?.()).catch(() => undefined);
      } catch {
        // a source whose return() throws has nothing more to release
      }
    }
    throw asImportError(error, operation);
  }
}

// Resolves with `promise`, or rejects with an AbortError as soon as `signal` fires.
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined, operation: string): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortError(operation, { cause: signal.reason }));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(operation, { cause: signal.reason }));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

// The library's own errors pass through; a failure of the caller's source is wrapped.
function asImportError(error: unknown, operation: string): ImageBackendError {
  if (error instanceof ImageBackendError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ImageIoError(`${operation}: reading the source failed: ${message}`, {
    operation,
    cause: error,
  });
}
