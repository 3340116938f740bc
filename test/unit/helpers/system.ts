// Helpers for unit tests that use real files, loop devices and mounts.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Loop devices and mounts need root. Without it the suite fails with this
 * message instead of skipping, so a run that did not test them cannot pass.
 */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} needs root (loop devices, mounts): run the unit tests as root; they fail rather than skip`);
  }
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `imagebackend-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** `losetup -f --show file`: the new loop device's path. */
export function attachLoop(file: string): string {
  return execFileSync('losetup', ['-f', '--show', file], { encoding: 'utf8' }).trim();
}

export function detachLoop(device: string): void {
  execFileSync('losetup', ['-d', device]);
}

/**
 * Whether two files or devices hold the same bytes (the first `length` bytes
 * when given). `cmp` is several times faster than hashing in JS, which
 * matters for the 1 GiB sparse files.
 */
export function sameBytes(a: string, b: string, length?: number): boolean {
  const args = ['-s', ...(length === undefined ? [] : ['-n', String(length)]), a, b];
  const run = spawnSync('cmp', args);
  if (run.status === 0) return true;
  if (run.status === 1) return false;
  throw new Error(`cmp ${args.join(' ')} failed: ${run.stderr.toString()}`);
}
