// Drives bench/python/nova_rbd.py (nova's own RBDDriver): one long-running
// Debian python3 process, JSON lines both ways. Every answer carries the op's own timing (ms).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const SCRIPT = join(import.meta.dirname, '..', 'python', 'nova_rbd.py');
// python3-rbd and python3-nova are Debian packages: the python3 on PATH may be another build.
export const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';

export class NovaPython {
  #child;
  #pending = new Map();
  #nextId = 1;
  #stderr = '';

  constructor({ conf, user }) {
    this.#child = spawn(PYTHON, [SCRIPT, '--conf', conf, '--user', user], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#child.stderr.on('data', (d) => {
      this.#stderr = (this.#stderr + d).slice(-4000);
    });
    createInterface({ input: this.#child.stdout }).on('line', (line) => {
      const answer = JSON.parse(line);
      const p = this.#pending.get(answer.id);
      this.#pending.delete(answer.id);
      if (answer.ok) p?.resolve(answer);
      else p?.reject(new Error(`nova_rbd.py: ${answer.error}`));
    });
    this.#child.on('exit', (code, signal) => {
      for (const p of this.#pending.values()) {
        p.reject(new Error(`nova_rbd.py exited (${signal ?? code}): ${this.#stderr}`));
      }
      this.#pending.clear();
    });
  }

  /** Sends one command; resolves with { ms, result }. */
  request(command) {
    const id = this.#nextId++;
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
      // A dead child answers nothing: fail now rather than leave the run waiting on an empty event loop.
      return Promise.reject(new Error(`nova_rbd.py is not running (it exited): ${this.#stderr}`));
    }
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#child.stdin.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  }

  /** The op's self-reported duration: what measure() takes as the sample. */
  async timed(command) {
    return (await this.request(command)).ms;
  }

  async close() {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin.end();
    await exited;
  }
}
