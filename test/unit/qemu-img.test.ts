// The qemu-img runner against the real qemu-img and prlimit.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { QemuImg, runQemuImg } from '../../src/qemu/index.js';
import { requireRoot, sameBytes, tempDir } from './helpers/system.js';
import { rejection } from '../helpers/assert.js';

let dir: string;
let removeDir: () => Promise<void>;
const qemu = new QemuImg();

beforeAll(async () => {
  ({ dir, remove: removeDir } = await tempDir('qemu'));
});
afterAll(async () => {
  await removeDir();
});

describe('runQemuImg', () => {
  it('refuses to open an image without an explicit -f format', async () => {
    const error = await rejection(runQemuImg(['info', join(dir, 'x')]));
    expect(error.code).toBe('INVALID_ARGUMENT');
  });

  it('reports a missing program as TOOL_NOT_FOUND with the package to install', async () => {
    const error = await rejection(runQemuImg(['--version'], { qemuImg: 'no-such-qemu-img' }));
    expect(error.code).toBe('TOOL_NOT_FOUND');
    expect(error.message).toMatch(/apt-get install qemu-utils/);
  });

  it('says the CPU-time limit stopped a run (a busy loop standing in for qemu-img)', async () => {
    const started = Date.now();
    const error = await rejection(
      runQemuImg(['-c', 'while :; do :; done'], { qemuImg: '/bin/sh', limits: { cpuSeconds: 1 } }),
    );
    expect(error.code).toBe('QEMU_FAILED');
    expect(error.process?.resourceLimited).toBe(true);
    expect(['SIGXCPU', 'SIGKILL']).toContain(error.process?.signal);
    expect(error.message).toMatch(/stopped by resource limits \(2048 MiB address space, 1 s CPU time\), killed by signal SIG(XCPU|KILL)/);
    expect(error.process?.exitCode).toBeNull();
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('runs under prlimit with nova master\'s 2 GiB address-space cap (bug 2116852) and returns stdout', async () => {
    const { stdout, command } = await runQemuImg(['--version']);
    expect(stdout).toMatch(/qemu-img version/);
    expect(command[0]).toMatch(/prlimit$/);
    expect(command).toContain(`--as=${2 * 2 ** 30}`);
    expect(command).toContain('--cpu=30');
  });
});

describe('QemuImg', () => {
  it('convert runs with an 8 GiB address-space cap and no CPU cap unless asked (its thread pool needs more than 1 GiB)', async () => {
    const fake = join(dir, 'fake-qemu-img');
    const seen = join(dir, 'limits.txt');
    await writeFile(fake, `#!/bin/sh\necho "$(ulimit -v) $(ulimit -t)" >> ${seen}\n`, { mode: 0o755 });
    const src = join(dir, 'limits-src.raw');
    await writeFile(src, 'x');
    const qemu = new QemuImg({ qemuImg: fake });
    await qemu.convert(src, join(dir, 'limits-dst.raw'), { srcFormat: 'raw', dstFormat: 'raw' });
    await qemu.convert(src, join(dir, 'limits-dst.raw'), { srcFormat: 'raw', dstFormat: 'raw', limits: { addressSpaceBytes: 2 ** 31 } });
    await qemu.info(src, { format: 'raw' }).catch(() => undefined);
    expect((await readFile(seen, 'utf8')).trim().split('\n')).toEqual([`${2 ** 23} unlimited`, `${2 ** 21} unlimited`, `${2 ** 21} 30`]);
  });

  it('creates, describes, converts raw -> qcow2 -> raw with equal bytes, and reports progress', async () => {
    const raw = join(dir, 'src.raw');
    await writeFile(raw, randomBytes(3 << 20));
    await truncate(raw, 64 << 20); // data then a hole
    const qcow2 = join(dir, 'mid.qcow2');
    const back = join(dir, 'back.raw');
    const progress: number[] = [];
    await qemu.convert(raw, qcow2, { srcFormat: 'raw', dstFormat: 'qcow2', onProgress: (p) => progress.push(p) });
    await qemu.convert(qcow2, back, { srcFormat: 'qcow2', dstFormat: 'raw' });
    expect(sameBytes(back, raw)).toBe(true);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toBe(100);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1] as number);

    const info = await qemu.info(qcow2, { format: 'qcow2' });
    expect(info.format).toBe('qcow2');
    expect(info.virtualSize).toBe(64 << 20);
    expect(info.clusterSize).toBe(65536);
    expect(info.formatSpecific?.type).toBe('qcow2');
    // Sparse by default: the hole stayed a hole.
    expect((await stat(back)).blocks * 512).toBeLessThan(16 << 20);
  });

  it('creates an overlay on a backing file and describes the chain', async () => {
    const base = join(dir, 'base.raw');
    await qemu.create(base, { format: 'raw', size: 1 << 20 });
    const overlay = join(dir, 'overlay.qcow2');
    await qemu.create(overlay, { format: 'qcow2', backingFile: base, backingFormat: 'raw', options: { cluster_size: 65536 } });
    const top = await qemu.info(overlay, { format: 'qcow2' });
    expect(top.backingFilename).toBe(base);
    expect(top.backingFormat).toBe('raw');
    expect(top.virtualSize).toBe(1 << 20);
    // The chain makes qemu-img open the backing file: only for a trusted image.
    expect((await rejection(qemu.info(overlay, { format: 'qcow2', backingChain: true }))).code).toBe('IMAGE_UNSAFE');
    const chain = await qemu.info(overlay, { format: 'qcow2', backingChain: true, trusted: true });
    expect(chain.map((i) => i.format)).toEqual(['qcow2', 'raw']);
  });

  it('reports a qcow2 external data file', async () => {
    const path = join(dir, 'external.qcow2');
    const data = join(dir, 'external.data');
    await qemu.create(path, { format: 'qcow2', size: 1 << 20, options: { data_file: data } });
    // qemu-img opens the data file to describe the image: refused unless trusted.
    expect((await rejection(qemu.info(path, { format: 'qcow2' }))).code).toBe('IMAGE_UNSAFE');
    const info = await qemu.info(path, { format: 'qcow2', trusted: true });
    expect(info.dataFile).toBe(data);
  });

  it('resizes', async () => {
    const path = join(dir, 'resize.qcow2');
    await qemu.create(path, { format: 'qcow2', size: 1 << 20 });
    await qemu.resize(path, 8 << 20, { format: 'qcow2' });
    expect((await qemu.info(path, { format: 'qcow2' })).virtualSize).toBe(8 << 20);
    const error = await rejection(qemu.resize(path, 1 << 20, { format: 'qcow2' }));
    expect(error.code).toBe('QEMU_FAILED');
    expect(error.process?.stderr).toMatch(/shrink/);
  });

  it('reports a missing input as DISK_NOT_FOUND', async () => {
    const missing = join(dir, 'nope.qcow2');
    expect((await rejection(qemu.info(missing, { format: 'qcow2' }))).code).toBe('DISK_NOT_FOUND');
    expect((await rejection(qemu.resize(missing, 1 << 20, { format: 'qcow2' }))).code).toBe('DISK_NOT_FOUND');
    const e = await rejection(qemu.convert(missing, join(dir, 'out.raw'), { srcFormat: 'qcow2', dstFormat: 'raw' }));
    expect(e.code).toBe('DISK_NOT_FOUND');
  });

  it('rejects a bad input as IMAGE_UNACCEPTABLE with stderr, leaving no target', async () => {
    const bad = join(dir, 'bad.qcow2');
    await writeFile(bad, randomBytes(1 << 20));
    const out = join(dir, 'bad-out.raw');
    const error = await rejection(qemu.convert(bad, out, { srcFormat: 'qcow2', dstFormat: 'raw' }));
    expect(error.code).toBe('IMAGE_UNACCEPTABLE');
    expect(error.process?.stderr).toMatch(/not in qcow2 format/);
    await expect(stat(out)).rejects.toThrow(/ENOENT/);
    expect((await rejection(qemu.info(bad, { format: 'qcow2' }))).code).toBe('INVALID_DISK_INFO');
  });

  it('removes a target it created when the convert fails half-way (full filesystem)', async () => {
    requireRoot('mounting a tiny tmpfs');
    const mnt = join(dir, 'tiny');
    await mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    try {
      const dense = join(dir, 'dense.raw');
      await writeFile(dense, randomBytes(4 << 20));
      const target = join(mnt, 'out.raw');
      const error = await rejection(qemu.convert(dense, target, { srcFormat: 'raw', dstFormat: 'raw' }));
      expect(error.code).toBe('QEMU_FAILED');
      expect(error.process?.stderr).toMatch(/No space left on device/);
      expect(await readdir(mnt)).toEqual([]);
    } finally {
      execFileSync('umount', [mnt]);
    }
  });

  it('is killed by an AbortSignal, and the target is removed', async () => {
    const big = join(dir, 'big.raw');
    await writeFile(big, '');
    await truncate(big, 8 * 2 ** 30);
    const target = join(dir, 'big.qcow2');
    const ac = new AbortController();
    const started = Date.now();
    // -S 0 writes all 8 GiB of zeros: far longer than the abort takes.
    const error = await rejection(
      qemu.convert(big, target, {
        srcFormat: 'raw',
        dstFormat: 'raw',
        sparse: false,
        signal: ac.signal,
        onProgress: () => ac.abort(),
      }),
    );
    expect(error.code).toBe('ABORTED');
    expect(Date.now() - started).toBeLessThan(20_000);
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
  });

  it('stops at a tiny address-space limit and says the limits did it', async () => {
    const path = join(dir, 'limited.qcow2');
    await qemu.create(path, { format: 'qcow2', size: 1 << 20 });
    const error = await rejection(qemu.info(path, { format: 'qcow2', limits: { addressSpaceBytes: 16 << 20 } }));
    expect(error.code).toBe('INVALID_DISK_INFO');
    expect(error.message).toMatch(/stopped by resource limits/);
    expect(error.process?.resourceLimited).toBe(true);
  });

  it('kills a run past its wall-clock timeout', async () => {
    const big = join(dir, 'slow.raw');
    await writeFile(big, '');
    await truncate(big, 8 * 2 ** 30);
    const target = join(dir, 'slow-out.raw');
    const error = await rejection(qemu.convert(big, target, { srcFormat: 'raw', dstFormat: 'raw', sparse: false, timeoutMs: 200 }));
    expect(error.code).toBe('QEMU_TIMEOUT');
    expect(error.process?.timedOut).toBe(true);
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
  });
});
