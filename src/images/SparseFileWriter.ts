/**
 * Writes a stream of bytes to a new file, leaving all-zero blocks as holes:
 * a raw image that is mostly empty costs its data, not its size, on disk
 * (as `qemu-img convert` leaves it). Chunks are gathered into 1 MiB writes.
 */
import { open, type FileHandle } from 'node:fs/promises';

const BUFFER_BYTES = 1 << 20;
// The hole granularity: a filesystem block multiple, small enough to find
// the gaps in sparse images, large enough that the zero check stays cheap.
const BLOCK_BYTES = 64 << 10;
const ZEROS = Buffer.alloc(BLOCK_BYTES);

/**
 * A sparse writer for a file it creates (`wx`: never an existing one).
 *
 * @example
 * ```ts
 * const out = await SparseFileWriter.create(part);
 * try { for await (const c of stream) await out.write(c); await out.finish(); } finally { await out.close(); }
 * ```
 */
export class SparseFileWriter {
  readonly #fh: FileHandle;
  readonly #buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  #filled = 0;
  #position = 0;

  private constructor(fh: FileHandle) {
    this.#fh = fh;
  }

  /** Creates `path` (failing if it exists). */
  static async create(path: string): Promise<SparseFileWriter> {
    return new SparseFileWriter(await open(path, 'wx', 0o644));
  }

  /** Bytes written so far (holes included). */
  get bytes(): number {
    return this.#position + this.#filled;
  }

  /** Appends `chunk`. */
  async write(chunk: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, BUFFER_BYTES - this.#filled);
      this.#buffer.set(chunk.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
      if (this.#filled === BUFFER_BYTES) await this.#flush();
    }
  }

  /** Writes what is buffered and sets the file's length (trailing holes count). */
  async finish(): Promise<void> {
    await this.#flush();
    await this.#fh.truncate(this.#position);
  }

  /** Closes the file (idempotent enough for a `finally`). */
  async close(): Promise<void> {
    await this.#fh.close().catch(() => undefined);
  }

  async #flush(): Promise<void> {
    const buf = this.#buffer;
    let runStart = -1;
    for (let block = 0; block < this.#filled; block += BLOCK_BYTES) {
      const end = Math.min(block + BLOCK_BYTES, this.#filled);
      const zero = buf.compare(ZEROS, 0, end - block, block, end) === 0;
      if (!zero && runStart < 0) runStart = block;
      if (zero && runStart >= 0) {
        await this.#writeRun(runStart, block);
        runStart = -1;
      }
    }
    if (runStart >= 0) await this.#writeRun(runStart, this.#filled);
    this.#position += this.#filled;
    this.#filled = 0;
  }

  async #writeRun(from: number, to: number): Promise<void> {
    let done = from;
    while (done < to) {
      const { bytesWritten } = await this.#fh.write(this.#buffer, done, to - done, this.#position + done);
      done += bytesWritten;
    }
  }
}
