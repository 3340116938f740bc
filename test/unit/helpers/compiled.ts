// Child processes cannot run TypeScript here (Node 20 has no type stripping and
// tsx is not a dependency), so tests that spawn them compile src/ once per test
// file into node_modules/.cache, where the children resolve the project's own
// dependencies, and a link to the addon's build folder.
import { execFile, spawn } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/** Compiles src/ to a private folder; returns it and its cleanup. */
export async function compileLibrary(): Promise<{ dist: string; cleanup: () => Promise<void> }> {
  const top = join(root, 'node_modules/.cache/imagebackend-test', randomBytes(6).toString('hex'));
  // <top>/dist like the package's own dist/, so the addon loader finds <top>/build.
  const dist = join(top, 'dist');
  await mkdir(dist, { recursive: true });
  // Under node_modules, ESM needs its own package scope.
  await writeFile(join(top, 'package.json'), '{"type":"module"}\n');
  await symlink(join(root, 'build'), join(top, 'build'));
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  await promisify(execFile)(
    process.execPath,
    [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', dist, '--declaration', 'false', '--declarationMap', 'false', '--sourceMap', 'false'],
    { cwd: root },
  );
  return { dist, cleanup: () => rm(top, { recursive: true, force: true }) };
}

/** The path of a child script in test/unit/children. */
export function childScript(name: string): string {
  return join(root, 'test/unit/children', name);
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningChild {
  pid: number;
  /** Resolves with the first stdout line that satisfies `match`. */
  line(match: (line: string) => boolean): Promise<string>;
  done: Promise<ChildResult>;
  kill(signal: NodeJS.Signals): void;
}

/** Starts `node script ...args` with IMAGEBACKEND_DIST set; killed after `timeoutMs`. */
export function startChild(dist: string, script: string, args: string[], timeoutMs = 60_000): RunningChild {
  const child = spawn(process.execPath, [childScript(script), ...args], {
    env: { ...process.env, IMAGEBACKEND_DIST: dist },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const watchers: Array<{ match: (line: string) => boolean; resolve: (line: string) => void }> = [];
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      for (const w of watchers.splice(0)) {
        if (w.match(line)) w.resolve(line);
        else watchers.push(w);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<ChildResult>((resolvePromise) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
  return {
    pid: child.pid as number,
    line: (match) =>
      new Promise<string>((resolveLine, reject) => {
        watchers.push({ match, resolve: resolveLine });
        void done.then((r) => reject(new Error(`child ended (${r.code ?? r.signal}) before the line; stderr: ${r.stderr}`)));
      }),
    done,
    kill: (signal) => child.kill(signal),
  };
}
