/**
 * Orders native progress reports against the promise. Reports arrive through
 * a thread-safe function whose queue is not ordered with the worker's
 * completion, so the last report can land after the promise settles. The
 * relay drops anything that is not an increase or comes after completion,
 * and sends the final (total, total) itself when the operation succeeds.
 */
export class ProgressRelay {
  #last = -1;
  #finished = false;
  readonly #onProgress: ((done: number, total: number) => void) | undefined;

  constructor(onProgress: ((done: number, total: number) => void) | undefined) {
    this.#onProgress = onProgress;
  }

  /** The callback to hand to the addon, or undefined when nobody listens. */
  get callback(): ((done: number, total: number) => void) | undefined {
    if (!this.#onProgress) return undefined;
    return (done, total) => this.#send(done, total);
  }

  /** Call once the operation succeeded. */
  finish(total: number): void {
    this.#send(total, total);
    this.#finished = true;
  }

  #send(done: number, total: number): void {
    if (this.#finished || done <= this.#last) return;
    this.#last = done;
    this.#onProgress?.(done, total);
  }
}
