/**
 * A one-line progress bar on a stream (stderr): redrawn in place on a
 * terminal, a line every 10 % otherwise (logs, CI).
 *
 * @example
 * ```ts
 * const bar = new ProgressBar(process.stderr, 50, 'disks');
 * for (...) bar.tick();
 * bar.done();
 * ```
 */
export class ProgressBar {
  readonly #out: NodeJS.WritableStream & { isTTY?: boolean };
  readonly #total: number;
  readonly #label: string;
  readonly #started = Date.now();
  #done = 0;
  #lastDecile = -1;

  constructor(out: NodeJS.WritableStream & { isTTY?: boolean }, total: number, label: string) {
    this.#out = out;
    this.#total = Math.max(1, total);
    this.#label = label;
  }

  /**
   * Counts `n` more units done and redraws.
   *
   * @example
   * ```ts
   * bar.tick();
   * ```
   */
  tick(n = 1): void {
    this.#done = Math.min(this.#total, this.#done + n);
    this.#draw();
  }

  /**
   * Ends the bar's line.
   *
   * @example
   * ```ts
   * bar.done();
   * ```
   */
  done(): void {
    if (this.#out.isTTY) this.#out.write('\n');
  }

  #draw(): void {
    const fraction = this.#done / this.#total;
    const width = 30;
    const filled = Math.round(fraction * width);
    const seconds = ((Date.now() - this.#started) / 1000).toFixed(1);
    const line = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.#done}/${this.#total} ${this.#label} ${seconds}s`;
    if (this.#out.isTTY) {
      this.#out.write(`\r${line}`);
      return;
    }
    const decile = Math.floor(fraction * 10);
    if (decile !== this.#lastDecile) {
      this.#lastDecile = decile;
      this.#out.write(`${line}\n`);
    }
  }
}
