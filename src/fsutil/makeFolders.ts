/**
 * `mkdir -p` that reports why a folder could not be made. Node's promise
 * `mkdir(path, { recursive: true })` (checked on Node 20) rejects with ENOENT
 * whenever a missing folder cannot be created, whatever the reason: on a
 * full filesystem a caller would read "a parent is missing" where the truth
 * is ENOSPC (the synchronous call and a plain mkdir report ENOSPC).
 */
import { lstat, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';

import { errnoName } from './errno.js';

/**
 * Creates `dir` and its missing parents; resolves the first folder created
 * (undefined when `dir` was there), as `mkdir`'s recursive mode does. When
 * that fails with ENOENT, the missing folders are made again one by one
 * with a plain mkdir, which rejects with the real error (ENOSPC, EDQUOT,
 * EACCES...).
 *
 * @example
 * ```ts
 * await makeFolders('/var/lib/nova/instances/locks', 0o755);
 * ```
 */
export async function makeFolders(dir: string, mode?: number): Promise<string | undefined> {
  try {
    return await mkdir(dir, mode === undefined ? { recursive: true } : { recursive: true, mode });
  } catch (error) {
    if (errnoName(error) !== 'ENOENT') throw error;
    const missing: string[] = [];
    for (let current = dir; !(await present(current)); current = dirname(current)) {
      if (dirname(current) === current) throw error;
      missing.unshift(current);
    }
    let first: string | undefined;
    for (const folder of missing) {
      try {
        await mkdir(folder, mode === undefined ? {} : { mode });
        first ??= folder;
      } catch (again) {
        if (errnoName(again) !== 'EEXIST') throw again;
      }
    }
    // Every folder could be made this time (a parent removed and made again meanwhile): done.
    return first;
  }
}

async function present(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (errnoName(error) === 'ENOENT') return false;
    throw error;
  }
}
