// qemu-img as the reference the native inspector is compared against. A
// missing tool fails the test with the Debian package that provides it.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function run(cmd: string, args: string[], pkg = 'qemu-utils'): Promise<string> {
  try {
    const { stdout } = await exec(cmd, args, { maxBuffer: 64 << 20 });
    return stdout;
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error(`${cmd} is not installed: apt-get install ${pkg}`);
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

export const qemuImg = (...args: string[]): Promise<string> => run('qemu-img', args);

/** The subset of `qemu-img info --output=json` we compare. */
export interface QemuInfo {
  format: string;
  'virtual-size': number;
  'actual-size'?: number;
  'cluster-size'?: number;
  'backing-filename'?: string;
  'full-backing-filename'?: string;
  'backing-filename-format'?: string;
  encrypted?: boolean;
  'dirty-flag'?: boolean;
  'format-specific'?: { type: string; data: Record<string, unknown> };
}

export async function qemuInfo(path: string): Promise<QemuInfo> {
  return JSON.parse(await qemuImg('info', '--output=json', path)) as QemuInfo;
}

/**
 * LUKS creation measures PBKDF2 speed with per-thread CPU time, which is
 * sometimes 0 ms on this kind of VM ("Unable to get accurate CPU usage"):
 * retry a few times before giving up.
 */
export async function qemuImgRetrying(...args: string[]): Promise<string> {
  let last: unknown;
  for (let i = 0; i < 20; i++) {
    try {
      return await qemuImg(...args);
    } catch (error) {
      last = error;
      if (!String((error as Error).message).includes('accurate CPU usage')) throw error;
    }
  }
  throw last;
}
