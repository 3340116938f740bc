// `imagebackend provision --backend lvm` on the host: without a volume group it
// fails with the typed LVM_NOT_CONFIGURED error (exit code 1, the code on
// stderr) before making anything; bad LVM flags are usage errors (exit 2).
// The provisioning itself needs device nodes, so it runs in the device-mapper
// guest of scripts/lvm-vm-test.sh (scripts/lvm-vm-guest.mjs).
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { main } from '../../src/cli/main.js';
import { runProvision } from '../../src/cli/provisionCommand.js';
import { LvmNotConfiguredError } from '../../src/errors.js';
import { compileLibrary } from './helpers/compiled.js';

function runCli(dist: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dist, 'cli.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const provisionFolders = async () => (await readdir(tmpdir())).filter((e) => e.startsWith('imagebackend-provision-')).sort();

describe('imagebackend provision --backend lvm (host, no device-mapper)', () => {
  let dist: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => ({ dist, cleanup } = await compileLibrary()), 120_000);
  afterAll(() => cleanup?.());

  it('without --volume-group: LVM_NOT_CONFIGURED, nothing made', async () => {
    const before = await provisionFolders();
    const error = await runProvision({
      backend: 'lvm',
      count: 1,
      size: 0,
      baseSize: 1 << 20,
      concurrency: 1,
      cleanup: false,
      keep: false,
      json: true,
      out: new PassThrough(),
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(LvmNotConfiguredError);
    expect(error).toMatchObject({ code: 'LVM_NOT_CONFIGURED' });
    await expect(main(['provision', '--backend', 'lvm', '--count', '1'])).rejects.toMatchObject({ code: 'LVM_NOT_CONFIGURED' });
    expect(await provisionFolders()).toEqual(before);
  });

  it('the command exits 1 with the typed code on stderr', async () => {
    const run = await runCli(dist, ['provision', '--backend', 'lvm', '--count', '1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/volume group.*\[LVM_NOT_CONFIGURED\]/);
    expect(run.stdout).toBe('');
  });

  it('a bad volume group name is rejected before lvm2 runs', async () => {
    const run = await runCli(dist, ['provision', '--backend', 'lvm', '--volume-group', 'bad/vg', '--count', '1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/\[INVALID_ARGUMENT\]/);
  });

  it('bad --lvm-runner or --volume-clear: usage error, exit 2', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['provision', '--backend', 'lvm', '--volume-group', 'vg', '--lvm-runner', 'dm'])).toBe(2);
      expect(await main(['provision', '--backend', 'lvm', '--volume-group', 'vg', '--volume-clear', 'dd'])).toBe(2);
      expect(await main(['provision', '--backend', 'zfs'])).toBe(2);
      expect(stderr.mock.calls.map(([c]) => String(c)).join('')).toMatch(/--lvm-runner must be cli or lib[\s\S]*--volume-clear must be none, zero or shred[\s\S]*qcow2, raw, rbd or lvm/);
    } finally {
      stderr.mockRestore();
    }
  });
});
