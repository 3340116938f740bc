/**
 * Parses `qemu-img convert -p` output: lines like "    (12.34/100%)" separated
 * by \r (and sometimes \n), arriving in arbitrary chunks. Reports each new,
 * higher percentage once.
 *
 * @example
 * ```ts
 * const parser = new ProgressParser((percent) => console.log(`${percent}%`));
 * child.stdout.setEncoding('utf8').on('data', (chunk) => parser.push(chunk));
 * child.stdout.on('end', () => parser.end());
 * ```
 */
export class ProgressParser {
  #pending = '';
  #last = -1;
  readonly #onProgress: (percent: number) => void;

  constructor(onProgress: (percent: number) => void) {
    this.#onProgress = onProgress;
  }

  /**
   * Feeds a chunk of stdout; a line is handled once its \r or \n arrives.
   *
   * @example
   * ```ts
   * parser.push('    (12.50/100%)\r    (25.');  // reports 12.5; "(25." waits for the rest
   * ```
   */
  push(chunk: string): void {
    const parts = (this.#pending + chunk).split(/[\r\n]/);
    this.#pending = parts.pop() ?? '';
    for (const part of parts) this.#line(part);
  }

  /**
   * Handles a trailing line with no terminator.
   *
   * @example
   * ```ts
   * parser.push('    (100.00/100%)');
   * parser.end();  // reports 100
   * ```
   */
  end(): void {
    this.#line(this.#pending);
    this.#pending = '';
  }

  #line(line: string): void {
    const match = /\((\d+(?:\.\d+)?)\/100%\)/.exec(line);
    if (!match?.[1]) return;
    const percent = Math.min(100, Number(match[1]));
    if (percent <= this.#last) return;
    this.#last = percent;
    this.#onProgress(percent);
  }
}
