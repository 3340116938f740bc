// Native qcow2 overlays against qemu's: byte-identical headers where qemu's
// layout is the simple one, clean `qemu-img check`, agreeing `qemu-img info`,
// and reads that fall through to the base.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DiskNotFoundError, ImageIoError, InvalidArgumentError } from '../../../src/errors.js';
import { inspect } from '../../../src/image/inspect.js';
import { createQcow2Overlay } from '../../../src/image/overlay.js';
import { qemuImg, qemuInfo } from './qemu.js';

const M = 1 << 20;
let dir: string;
let n = 0;

async function freshDir(): Promise<string> {
  const d = join(dir, `case${n++}`);
  await mkdir(d);
  return d;
}

async function check(path: string): Promise<Record<string, unknown>> {
  // qemu-img check exits non-zero on errors or leaks; JSON tells which.
  return JSON.parse(await qemuImg('check', '--output=json', path)) as Record<string, unknown>;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ib-overlay-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('createQcow2Overlay', () => {
  const variants: [string, { clusterSize?: number; extendedL2?: boolean }][] = [
    ['default', {}],
    ['512 B clusters', { clusterSize: 512 }],
    ['4 KiB clusters', { clusterSize: 4096 }],
    ['8 KiB clusters', { clusterSize: 8192 }],
    ['2 MiB clusters', { clusterSize: 2 * M }],
    ['extended L2', { extendedL2: true }],
    ['extended L2, 16 KiB clusters', { clusterSize: 16384, extendedL2: true }],
  ];

  it.each(variants)('writes the same bytes as qemu-img create (%s)', async (_name, opts) => {
    const d = await freshDir();
    await qemuImg('create', '-q', '-f', 'raw', join(d, 'base.raw'), String(3 * M));
    const o = [`cluster_size=${opts.clusterSize ?? 65536}`, `extended_l2=${opts.extendedL2 ? 'on' : 'off'}`];
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', '-o', o.join(','), join(d, 'qemu.qcow2'));
    const res = await createQcow2Overlay(join(d, 'ours.qcow2'), { backingFile: 'base.raw', backingFormat: 'raw', ...opts });
    expect(res.size).toBe(3 * M);
    const [ours, theirs] = await Promise.all([readFile(join(d, 'ours.qcow2')), readFile(join(d, 'qemu.qcow2'))]);
    expect(ours.length).toBe(theirs.length);
    expect(ours.equals(theirs)).toBe(true);

    const c = await check(join(d, 'ours.qcow2'));
    expect(c['check-errors']).toBe(0);
    expect(c.leaks ?? 0).toBe(0);
    expect(c.corruptions ?? 0).toBe(0);
    const [info, qinfo] = await Promise.all([qemuInfo(join(d, 'ours.qcow2')), qemuInfo(join(d, 'qemu.qcow2'))]);
    expect({ ...info, filename: '' }).toEqual({ ...qinfo, filename: '' });
    await qemuImg('compare', '-q', join(d, 'ours.qcow2'), join(d, 'base.raw'));
  });

  it('passes check, info and compare for large sizes whose L1 spans many clusters', async () => {
    const d = await freshDir();
    await qemuImg('create', '-q', '-f', 'raw', join(d, 'base.raw'), String(10 * 1024 * M));
    const path = join(d, 'ours.qcow2');
    await createQcow2Overlay(path, { backingFile: 'base.raw', backingFormat: 'raw', clusterSize: 512 });
    const c = await check(path);
    expect(c['check-errors']).toBe(0);
    expect(c.leaks ?? 0).toBe(0);
    const info = await qemuInfo(path);
    expect(info['virtual-size']).toBe(10 * 1024 * M);
    expect(info['cluster-size']).toBe(512);
    const ours = await inspect(path);
    expect(ours.virtualSize).toBe(10 * 1024 * M);
    expect(ours.actualSize).toBe(info['actual-size']);
  });

  it('reads through to the base: convert -O raw of the overlay equals the base', async () => {
    const d = await freshDir();
    const base = Buffer.alloc(8 * M);
    for (let i = 0; i < 8; i += 3) randomBytes(M).copy(base, i * M);
    await writeFile(join(d, 'base.raw'), base);
    await qemuImg('convert', '-q', '-O', 'qcow2', join(d, 'base.raw'), join(d, 'base.qcow2'));
    for (const [file, fmt] of [['base.raw', 'raw'], ['base.qcow2', 'qcow2']] as const) {
      const path = join(d, `over-${fmt}.qcow2`);
      const res = await createQcow2Overlay(path, { backingFile: file });
      expect(res.backingFormat).toBe(fmt); // inspected when not given
      await qemuImg('convert', '-q', '-O', 'raw', path, join(d, `out-${fmt}.raw`));
      expect((await readFile(join(d, `out-${fmt}.raw`))).equals(base)).toBe(true);
      await qemuImg('compare', '-q', path, join(d, 'base.raw'));
      const info = await qemuInfo(path);
      expect(info['backing-filename']).toBe(file);
      expect(info['backing-filename-format']).toBe(fmt);
    }
  });

  it('defaults the size to the base virtual size, rounded up to a sector like qemu-img', async () => {
    const d = await freshDir();
    await writeFile(join(d, 'odd.raw'), Buffer.alloc(M + 1));
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'odd.raw', '-F', 'raw', join(d, 'qemu.qcow2'));
    await createQcow2Overlay(join(d, 'ours.qcow2'), { backingFile: 'odd.raw', backingFormat: 'raw' });
    expect((await qemuInfo(join(d, 'ours.qcow2')))['virtual-size']).toBe((await qemuInfo(join(d, 'qemu.qcow2')))['virtual-size']);
    expect((await readFile(join(d, 'ours.qcow2'))).equals(await readFile(join(d, 'qemu.qcow2')))).toBe(true);
  });

  it('accepts an explicit size larger than the base', async () => {
    const d = await freshDir();
    await qemuImg('create', '-q', '-f', 'raw', join(d, 'base.raw'), String(M));
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', join(d, 'base.raw'), '-F', 'raw', join(d, 'qemu.qcow2'), String(20 * M));
    await createQcow2Overlay(join(d, 'ours.qcow2'), { backingFile: join(d, 'base.raw'), backingFormat: 'raw', size: 20 * M });
    expect((await readFile(join(d, 'ours.qcow2'))).equals(await readFile(join(d, 'qemu.qcow2')))).toBe(true);
    const c = await check(join(d, 'ours.qcow2'));
    expect(c['check-errors']).toBe(0);
  });

  it('never clobbers an existing file', async () => {
    const d = await freshDir();
    await qemuImg('create', '-q', '-f', 'raw', join(d, 'base.raw'), String(M));
    await writeFile(join(d, 'taken'), 'keep me');
    const err = await createQcow2Overlay(join(d, 'taken'), { backingFile: 'base.raw' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageIoError);
    expect((err as ImageIoError).errnoName).toBe('EEXIST');
    expect(await readFile(join(d, 'taken'), 'utf8')).toBe('keep me');
  });

  it('leaves no file behind when the base is missing or the options cannot be encoded', async () => {
    const d = await freshDir();
    const missing = await createQcow2Overlay(join(d, 'a.qcow2'), { backingFile: 'nope.raw' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(DiskNotFoundError);
    expect((missing as DiskNotFoundError).code).toBe('DISK_NOT_FOUND');
    await expect(stat(join(d, 'a.qcow2'))).rejects.toThrow(/ENOENT/);

    await qemuImg('create', '-q', '-f', 'raw', join(d, 'base.raw'), String(M));
    const long = await createQcow2Overlay(join(d, 'b.qcow2'), {
      backingFile: `${'./'.repeat(250)}base.raw`,
      clusterSize: 512,
    }).catch((e: unknown) => e);
    expect(long).toBeInstanceOf(InvalidArgumentError);
    await expect(stat(join(d, 'b.qcow2'))).rejects.toThrow(/ENOENT/);

    const bad = await createQcow2Overlay(join(d, 'c.qcow2'), { backingFile: 'base.raw', clusterSize: 4096, extendedL2: true }).catch(
      (e: unknown) => e,
    );
    expect(bad).toBeInstanceOf(InvalidArgumentError);
  });

  it("inherits a qcow2 base's cluster size, as nova's create_cow_image does; a raw base or an explicit size does not", async () => {
    const d = await freshDir();
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', join(d, 'base4k.qcow2'), String(8 * M));
    await qemuImg('create', '-q', '-f', 'raw', join(d, 'base.raw'), String(8 * M));
    const cases: Array<[string, Parameters<typeof createQcow2Overlay>[1], number]> = [
      ['inherit.qcow2', { backingFile: 'base4k.qcow2' }, 4096],
      ['explicit.qcow2', { backingFile: 'base4k.qcow2', clusterSize: 65536 }, 65536],
      ['from-raw.qcow2', { backingFile: 'base.raw', backingFormat: 'raw' }, 65536],
    ];
    for (const [name, opts, cluster] of cases) {
      const path = join(d, name);
      await createQcow2Overlay(path, opts);
      expect((await qemuInfo(path))['cluster-size'], name).toBe(cluster);
      expect((await check(path))['check-errors'], name).toBe(0);
    }
  });

  it('creates extended_l2 overlays on a qcow2 base that qemu-img info and check accept', async () => {
    const d = await freshDir();
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=32768', join(d, 'base.qcow2'), String(8 * M));
    const path = join(d, 'l2.qcow2');
    await createQcow2Overlay(path, { backingFile: 'base.qcow2', extendedL2: true });
    const info = await qemuInfo(path);
    expect(info['cluster-size']).toBe(32768);
    expect(info['format-specific']?.data['extended-l2']).toBe(true);
    expect((await check(path))['check-errors']).toBe(0);
    // Through a 4 KiB qcow2 base, extended L2 cannot be encoded (qemu needs 16 KiB clusters): refused, nothing left.
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', join(d, 'small.qcow2'), String(8 * M));
    const refused = await createQcow2Overlay(join(d, 'bad.qcow2'), { backingFile: 'small.qcow2', extendedL2: true }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidArgumentError);
    await expect(stat(join(d, 'bad.qcow2'))).rejects.toThrow(/ENOENT/);
  });

  it('rejects a bad clusterSize before any work', async () => {
    const err = await createQcow2Overlay(join(dir, 'x.qcow2'), { backingFile: 'b', clusterSize: 3000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toBe('Expected a power of two in 512..2097152 for clusterSize but received 3000');
  });
});
