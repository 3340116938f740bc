// A throwaway LVM volume group on a loop device for one test file: a sparse
// file, `losetup`, `pvcreate`, `vgcreate` with a unique name, all torn down
// by `destroy()` whatever happened. Without root or a tool the suite fails
// with the reason; it never skips.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { hasDeviceMapper } from '../../src/lvm/config.js';

const TOOLS: Record<string, string> = {
  lvm: 'lvm2',
  losetup: 'mount',
  e2fsck: 'e2fsprogs',
  resize2fs: 'e2fsprogs',
  'mkfs.ext4': 'e2fsprogs',
  'qemu-img': 'qemu-utils',
};

function findTool(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // keep looking
    }
  }
  return undefined;
}

/** Throws, naming what is missing and how to get it, unless root and every LVM test tool are here. */
export function requireLvmTools(what: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${what} needs root (loop devices, lvm2): run the tests as root; they fail rather than skip`);
  }
  const missing = Object.keys(TOOLS).filter((t) => !findTool(t));
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((t) => TOOLS[t]))].join(' ');
    throw new Error(`${what} needs ${missing.join(', ')}: apt-get install ${packages} (scripts/setup.sh installs them)`);
  }
}

export interface TestVolumeGroup {
  name: string;
  /** The loop device holding the one PV. */
  device: string;
  dir: string;
  /** Whether lvm2 can activate volumes here (device-mapper present). */
  activation: boolean;
  /** `lvm <argv>` with the same config the drivers use; throws on failure. */
  lvm(argv: string[]): string;
  /** A new loop device of `size` bytes (sparse), detached by `destroy()`. */
  scratchDevice(size: number): Promise<string>;
  destroy(): Promise<void>;
}

/** Creates a VG named `ibtest<random>` on a new loop device over a sparse file of `size` bytes. */
export async function createTestVolumeGroup(size = 256 << 20): Promise<TestVolumeGroup> {
  const dir = await mkdtemp(join(tmpdir(), 'imagebackend-lvm-'));
  const name = `ibtest${randomBytes(4).toString('hex')}`;
  const activation = await hasDeviceMapper();
  const file = join(dir, 'pv.img');
  await writeFile(file, '');
  await truncate(file, size);
  const cleanups: Array<() => void> = [];
  let device = '';
  const config = (): string =>
    [...(activation ? [] : ['global/activation=0']), `devices/filter=["a|^${device}$|","r|.*|"]`].join(' ');
  const lvm = (argv: string[]): string => {
    const [sub, ...rest] = argv as [string, ...string[]];
    return execFileSync('lvm', [sub, '--config', config(), ...rest], {
      encoding: 'utf8',
      env: { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1', LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  };
  const destroy = async (): Promise<void> => {
    const failures: string[] = [];
    for (const cleanup of cleanups.reverse()) {
      try {
        cleanup();
      } catch (error) {
        failures.push((error as Error).message);
      }
    }
    cleanups.length = 0;
    await rm(dir, { recursive: true, force: true });
    if (failures.length > 0) throw new Error(`LVM test teardown: ${failures.join('; ')}`);
  };
  try {
    device = execFileSync('losetup', ['-f', '--show', file], { encoding: 'utf8' }).trim();
    cleanups.push(() => execFileSync('losetup', ['-d', device]));
    lvm(['pvcreate', '-q', device]);
    cleanups.push(() => lvm(['pvremove', '-q', '-ff', '-y', device]));
    lvm(['vgcreate', '-q', name, device]);
    cleanups.push(() => lvm(['vgremove', '-q', '-f', name]));
  } catch (error) {
    await destroy().catch(() => undefined);
    throw error;
  }
  let count = 0;
  const scratchDevice = async (bytes: number): Promise<string> => {
    const path = join(dir, `scratch${count++}.img`);
    await writeFile(path, '');
    await truncate(path, bytes);
    const dev = execFileSync('losetup', ['-f', '--show', path], { encoding: 'utf8' }).trim();
    cleanups.push(() => execFileSync('losetup', ['-d', dev]));
    return dev;
  };
  return { name, device, dir, activation, lvm, scratchDevice, destroy };
}
