// Helpers for unit tests that use real files, loop devices and mounts.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
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

/** sha256 of the first `length` bytes (all of it when omitted) of a file or device. */
export async function sha256(path: string, length?: number): Promise<string> {
  const hash = createHash('sha256');
  const stream = createReadStream(path, length === undefined ? {} : { start: 0, end: length - 1 });
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
