/** Finding an external program once, with an error that names its package. */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, isAbsolute, join } from 'node:path';

import { ToolNotFoundError } from '../errors.js';

const found = new Map<string, string>();

/**
 * The absolute path of an executable, looked up in PATH (then /usr/sbin and
 * /sbin, where lvm2 and e2fsprogs live) once and cached; rejects with
 * `TOOL_NOT_FOUND` naming the package that provides it.
 *
 * @example
 * ```ts
 * const lvm = await findProgram('lvm', 'lvm2'); // '/usr/sbin/lvm'
 * ```
 */
export async function findProgram(name: string, packageName: string): Promise<string> {
  const cached = found.get(name);
  if (cached) return cached;
  const candidates = isAbsolute(name)
    ? [name]
    : [...(process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(delimiter).map((dir) => join(dir, name)), join('/usr/sbin', name), join('/sbin', name)];
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      found.set(name, candidate);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new ToolNotFoundError(`${name} is not installed (Debian/Ubuntu: apt-get install ${packageName})`, {
    operation: name,
  });
}
