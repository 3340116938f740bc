// The one process runner behind qemu-img, lvm and e2fsprogs: one timeout and
// kill rule (SIGTERM to the process group, SIGKILL after a grace), AbortSignal,
// and a death by signal reported as what it was, through all three callers.
// Stand-in programs (shell scripts) play the tool so each ending is certain.
import { execFileSync } from 'node:child_process';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { growFilesystem } from '../../src/blockdev/grow-filesystem.js';
import { LvmCliRunner } from '../../src/lvm/LvmCliRunner.js';
import { runProcess } from '../../src/process/runProcess.js';
import { runQemuImg } from '../../src/qemu/run.js';
import { rejection } from '../helpers/assert.js';
import { tempDir } from './helpers/system.js';

let dir: string;
let removeDir: () => Promise<void>;

async function script(name: string, body: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return path;
}

beforeAll(async () => {
  ({ dir, remove: removeDir } = await tempDir('process'));
});
afterAll(async () => {
  await removeDir();
});

describe('runProcess', () => {
  it('stops a program past its timeout with SIGTERM first: one that exits on it ends by it', async () => {
    const log = join(dir, 'term.log');
    const program = await script('polite', `trap 'echo got-term >> ${log}; exit 3' TERM\nwhile :; do sleep 0.05; done`);
    const outcome = await runProcess({ program, packageName: 'test', args: [] }, { timeoutMs: 300, killGraceMs: 5000 });
    expect(outcome.timedOut).toBe(true);
    expect(outcome.exitCode).toBe(3);
    expect(await readFile(log, 'utf8')).toBe('got-term\n');
  });

  it('then SIGKILL after the grace when the program ignores SIGTERM, and says so', async () => {
    const program = await script('stubborn', "trap '' TERM\nwhile :; do sleep 0.05; done");
    const started = Date.now();
    const outcome = await runProcess({ program, packageName: 'test', args: [] }, { timeoutMs: 200, killGraceMs: 300 });
    expect(outcome).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGKILL' });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('an AbortSignal stops the whole process group and rejects with ABORTED', async () => {
    const childPid = join(dir, 'child.pid');
    const program = await script('forks', `sleep 30 & echo $! > ${childPid}\nwait`);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const error = await rejection(runProcess({ program, packageName: 'test', args: [] }, { signal: ac.signal }));
    expect(error.code).toBe('ABORTED');
    const pid = Number(await readFile(childPid, 'utf8'));
    // The forked grandchild went with it (its own group was signalled).
    // (gone, or a zombie nobody reaped yet: never still sleeping)
    await new Promise((r) => setTimeout(r, 100));
    const state = await readFile(`/proc/${pid}/status`, 'utf8').then((s) => /State:\s+(\S)/.exec(s)?.[1], () => 'gone');
    expect(['gone', 'Z']).toContain(state);
  });

  it('names a missing program and its package (TOOL_NOT_FOUND)', async () => {
    const error = await rejection(runProcess({ program: 'no-such-tool-xyz', packageName: 'xyz-utils', args: [] }));
    expect(error.code).toBe('TOOL_NOT_FOUND');
    expect(error.message).toMatch(/apt-get install xyz-utils/);
  });
});

describe('a death by signal is reported as what it was', () => {
  it('qemu-img: exitCode null, the signal named in process and message', async () => {
    const crash = await script('qemu-crash', 'kill -SEGV $$');
    const error = await rejection(runQemuImg(['--version'], { qemuImg: crash }));
    expect(error.code).toBe('QEMU_FAILED');
    expect(error.process).toMatchObject({ exitCode: null, signal: 'SIGSEGV', timedOut: false, resourceLimited: false });
    expect(error.message).toMatch(/qemu-img --version was killed by signal SIGSEGV/);
  });

  it('lvm: a crash is not a timeout (the old runner said timedOut: true)', async () => {
    const crash = await script('lvm-crash', 'kill -SEGV $$');
    const error = await rejection(new LvmCliRunner({ lvm: crash, activation: false }).run(['lvs']));
    expect(error.code).toBe('LVM_FAILED');
    expect(error.process).toMatchObject({ exitCode: null, signal: 'SIGSEGV', timedOut: false });
    expect(error.message).toMatch(/lvm lvs was killed by signal SIGSEGV/);
  });

  it('lvm: past its timeout the command gets SIGTERM, then SIGKILL after the grace', async () => {
    const stubborn = await script('lvm-hang', "trap '' TERM\nwhile :; do sleep 0.05; done");
    const error = await rejection(new LvmCliRunner({ lvm: stubborn, activation: false, timeoutMs: 200, killGraceMs: 200 }).run(['lvs']));
    expect(error.process).toMatchObject({ exitCode: null, signal: 'SIGKILL', timedOut: true });
    expect(error.message).toMatch(/timed out after 200 ms and was stopped \(killed by signal SIGKILL\)/);
  });

  it('e2fsck and resize2fs: the signal that ended them, in the reason and in the error', async () => {
    const fs = join(dir, 'fs.img');
    await writeFile(fs, '');
    await truncate(fs, 8 << 20);
    execFileSync('mkfs.ext4', ['-q', '-F', fs]);
    // Stand-ins found first on PATH (the runner looks programs up there).
    const bin = join(dir, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    const mode = join(dir, 'mode');
    await writeFile(join(bin, 'e2fsck'), `#!/bin/sh\n[ "$(cat ${mode})" = fsck ] && kill -SEGV $$\nexit 0\n`, { mode: 0o755 });
    await writeFile(join(bin, 'resize2fs'), `#!/bin/sh\nkill -ABRT $$\n`, { mode: 0o755 });
    const path = process.env.PATH;
    process.env.PATH = `${bin}:${path}`;
    try {
      await writeFile(mode, 'fsck');
      const skipped = await growFilesystem(fs);
      expect(skipped.grown).toBe(false);
      expect(skipped.reason).toMatch(/e2fsck -fp was killed by signal SIGSEGV/);
      await writeFile(mode, 'resize');
      const error = await rejection(growFilesystem(fs));
      expect(error.code).toBe('FILESYSTEM_RESIZE_FAILED');
      expect(error.process).toMatchObject({ exitCode: null, signal: 'SIGABRT' });
      expect(error.message).toMatch(/killed by signal SIGABRT/);
    } finally {
      process.env.PATH = path;
    }
  });
});
