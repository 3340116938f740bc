import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { main } from '../../src/cli/main.js';
import { tempDir } from '../helpers/files.js';

describe('imagebackend info', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let overlay: string;

  beforeAll(async () => {
    tmp = await tempDir();
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', join(tmp.dir, 'base.raw'), '10M']);
    overlay = join(tmp.dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', overlay]);
  });
  afterAll(() => tmp.cleanup());

  async function capture(argv: string[]): Promise<{ code: number; out: string }> {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    try {
      return { code: await main(argv), out };
    } finally {
      spy.mockRestore();
    }
  }

  it('prints JSON that agrees with qemu-img info', async () => {
    const { code, out } = await capture(['info', overlay, '--output', 'json']);
    expect(code).toBe(0);
    const ours = JSON.parse(out);
    const theirs = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', overlay], { encoding: 'utf8' }));
    expect(ours.format).toBe(theirs.format);
    expect(ours.virtualSize).toBe(theirs['virtual-size']);
    expect(ours.backingFile).toBe(theirs['backing-filename']);
    expect(ours.backingFormat).toBe(theirs['backing-filename-format']);
    expect(ours.clusterSize).toBe(theirs['cluster-size']);
    expect(ours.safety.safe).toBe(false);
  });

  it('prints a human summary with the safety verdict and the chain on request', async () => {
    const { code, out } = await capture(['info', overlay, '--backing-chain']);
    expect(code).toBe(0);
    expect(out).toContain('file format: qcow2');
    expect(out).toContain('virtual size: 10 MiB (10485760 bytes)');
    expect(out).toContain(`backing file: base.raw (actual path: ${join(tmp.dir, 'base.raw')})`);
    expect(out).toContain('safe: no');
    expect(out).toContain(`image: ${join(tmp.dir, 'base.raw')}`);
    expect(out).toContain('file format: raw');
  });

  it('rejects bad usage with exit code 2 and a missing file with a typed error', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect((await capture(['info'])).code).toBe(2);
      expect((await capture(['info', overlay, '--output', 'xml'])).code).toBe(2);
      expect((await capture(['frobnicate'])).code).toBe(2);
    } finally {
      err.mockRestore();
    }
    await expect(main(['info', join(tmp.dir, 'missing')])).rejects.toMatchObject({ code: 'DISK_NOT_FOUND' });
  });
});
