// Real nova (Debian's python3-nova under /usr/bin/python3) as a child process
// of the tests. Without it the tests that need it fail naming the package
// (scripts/setup.sh installs it); they never skip.
import { spawn, spawnSync } from 'node:child_process';
import { childScript } from './compiled.js';

/** The interpreter Debian's python3-nova is importable from. */
export const NOVA_PYTHON = '/usr/bin/python3';

let available: string | undefined;

/** Throws, naming the package, when nova cannot run here. */
export function requireNova(): void {
  const missing = novaMissing();
  if (missing) throw new Error(missing);
}

/** Why nova cannot run here, or '' when it can. */
export function novaMissing(): string {
  if (available !== undefined) return available;
  const r = spawnSync(NOVA_PYTHON, ['-c', 'import nova.utils, oslo_concurrency.lockutils'], { encoding: 'utf8', timeout: 120_000 });
  available = r.status === 0 ? '' : `python3-nova is not importable from ${NOVA_PYTHON} (apt-get install python3-nova): ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`;
  return available;
}

/** A python child speaking in lines. */
export interface PythonChild {
  /** Resolves with the first stdout line equal to `text` (rejects if the child ends first). */
  line(text: string): Promise<void>;
  /** True once the child printed `text`. */
  said(text: string): boolean;
  /** Writes one line to the child's stdin. */
  send(text: string): void;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
  kill(): void;
}

/** Starts `test/unit/children/<script> ...args` under {@link NOVA_PYTHON}; killed after `timeoutMs`. */
export function startPython(script: string, args: string[], timeoutMs = 120_000): PythonChild {
  const child = spawn(NOVA_PYTHON, [childScript(script), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const lines: string[] = [];
  const watchers: Array<{ text: string; resolve: () => void }> = [];
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      lines.push(line);
      for (const w of watchers.splice(0)) {
        if (w.text === line) w.resolve();
        else watchers.push(w);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin.on('error', () => undefined);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    }),
  );
  return {
    line: (text) =>
      lines.includes(text)
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
            watchers.push({ text, resolve });
            void done.then((r) => reject(new Error(`python child ended (${r.code ?? r.signal}) before "${text}"; stderr: ${r.stderr}`)));
          }),
    said: (text) => lines.includes(text),
    send: (text) => child.stdin.write(`${text}\n`),
    done,
    kill: () => child.kill('SIGKILL'),
  };
}
