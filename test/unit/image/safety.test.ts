// The safety verdict: what makes an image refer to other files or read
// differently depending on who looks at it (nova's format_inspector checks).
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DiskNotFoundError, ImageInvalidError, ImageUnsafeError } from '../../../src/errors.js';
import { assertSafe, inspect } from '../../../src/image/inspect.js';
import { patch } from '../../helpers/files.js';
import { qemuImg, qemuInfo } from './qemu.js';

const M = 1 << 20;
let dir: string;


beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ib-safety-'));
  await qemuImg('create', '-q', '-f', 'raw', join(dir, 'base.raw'), String(M));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('safety verdict', () => {
  it('a plain raw or qcow2 image is safe', async () => {
    await qemuImg('create', '-q', '-f', 'qcow2', join(dir, 'plain.qcow2'), String(M));
    for (const f of ['base.raw', 'plain.qcow2']) {
      const info = await inspect(join(dir, f));
      expect(info.safety).toEqual({ safe: true, reasons: [] });
      expect(() => assertSafe(info, f)).not.toThrow();
    }
  });

  it('a backing file is a reason, and assertSafe throws IMAGE_UNSAFE', async () => {
    const p = join(dir, 'over.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', p);
    const info = await inspect(p);
    expect(info.safety.reasons).toEqual(["backing file: 'base.raw'"]);
    const err = (() => {
      try {
        assertSafe(info, p);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ImageUnsafeError);
    expect((err as ImageUnsafeError).code).toBe('IMAGE_UNSAFE');
    expect((err as ImageUnsafeError).reasons).toEqual(info.safety.reasons);
  });

  it('an external data file is a reason', async () => {
    const p = join(dir, 'df.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${join(dir, 'df.data')}`, p, String(M));
    const info = await inspect(p);
    expect(info.dataFile).toBe(join(dir, 'df.data'));
    expect(info.safety.reasons).toEqual([`external data file: '${join(dir, 'df.data')}'`]);
  });

  it('vmdk extents are reasons; an absolute extent path is named as such', async () => {
    const p = join(dir, 'flat.vmdk');
    await qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', p, String(M));
    // monolithicFlat is allowed here so that the extents are the only concern (see parity.test.ts).
    const flat = { vmdkAllowedTypes: ['monolithicFlat'] };
    expect((await inspect(p, flat)).safety.reasons).toEqual(["vmdk extent references another file: 'flat-flat.vmdk'"]);
    const text = (await readFile(p, 'utf8')).replace('"flat-flat.vmdk"', '"/etc/shadow"');
    await writeFile(join(dir, 'abs.vmdk'), text);
    expect((await qemuInfo(join(dir, 'abs.vmdk'))).format).toBe('vmdk');
    const info = await inspect(join(dir, 'abs.vmdk'), flat);
    expect(info.format).toBe('vmdk');
    expect(info.safety.reasons).toEqual(["vmdk extent uses an absolute path: '/etc/shadow'"]);
  });

  it('a monolithicSparse vmdk naming only itself is safe', async () => {
    const p = join(dir, 'sparse.vmdk');
    await qemuImg('create', '-q', '-f', 'vmdk', p, String(M));
    expect((await inspect(p)).safety).toEqual({ safe: true, reasons: [] });
  });

  it('a raw file with a qcow2 header written at offset 0 is qcow2', async () => {
    const p = join(dir, 'raw-then-qcow2');
    await writeFile(p, Buffer.alloc(4 * M, 0xab));
    await qemuImg('create', '-q', '-f', 'qcow2', join(dir, 'hdr.qcow2'), String(M));
    await patch(p, 0, await readFile(join(dir, 'hdr.qcow2')));
    const [ours, qemu] = await Promise.all([inspect(p), qemuInfo(p)]);
    expect(ours.format).toBe('qcow2');
    expect(qemu.format).toBe('qcow2');
    expect(ours.virtualSize).toBe(qemu['virtual-size']);
  });

  it('iso and gpt in the same raw bytes are a hybrid ISO: one format, safe; qemu calls it raw', async () => {
    const p = join(dir, 'hybrid.img');
    await writeFile(p, Buffer.alloc(M));
    await patch(p, 510, Buffer.from([0x55, 0xaa]));
    await patch(p, 512, 'EFI PART');
    await patch(p, 0x8000, '\x01CD001\x01');
    const [ours, qemu] = await Promise.all([inspect(p), qemuInfo(p)]);
    expect(qemu.format).toBe('raw');
    expect(ours.format).toBe('raw');
    expect(ours.contentHints).toEqual(['iso', 'gpt', 'mbr']);
    expect(ours.safety.reasons).toEqual([]);
  });

  it('an iso alone or a gpt disk with its protective mbr is safe raw', async () => {
    const iso = join(dir, 'cd.iso');
    await writeFile(iso, Buffer.alloc(M));
    await patch(iso, 0x8000, '\x01CD001\x01');
    const i = await inspect(iso);
    expect([i.format, i.contentHints, i.safety.safe]).toEqual(['raw', ['iso'], true]);
    const gpt = join(dir, 'disk.img');
    await writeFile(gpt, Buffer.alloc(M));
    await patch(gpt, 510, Buffer.from([0x55, 0xaa]));
    // The protective entry: type 0xEE from CHS 0/2/0, LBA 1 (oslo checks it).
    await patch(gpt, 446, Buffer.from([0, 0, 2, 0, 0xee, 0xfe, 0xff, 0xff, 1, 0, 0, 0, 0xff, 0x07, 0, 0]));
    await patch(gpt, 512, 'EFI PART');
    const g = await inspect(gpt);
    expect([g.format, g.contentHints, g.safety.safe]).toEqual(['raw', ['gpt', 'mbr'], true]);
  });

  it('a qcow2 header with an iso descriptor inside is two formats', async () => {
    const p = join(dir, 'qcow-iso.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', p, String(M));
    await patch(p, 0x8000, '\x01CD001\x01'); // inside the 64 KiB header cluster
    const info = await inspect(p);
    expect(info.format).toBe('qcow2');
    expect(info.safety.reasons).toEqual(['multiple formats detected: qcow2, iso']);
  });

  it('unknown qcow2 incompatible feature bits are a reason', async () => {
    const p = join(dir, 'feat.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', p, String(M));
    await patch(p, 72, Buffer.from([0, 0, 0, 0, 0, 0, 0x04, 0x00])); // bit 10
    const info = await inspect(p);
    expect(info.safety.reasons).toEqual(['qcow2 unknown incompatible feature bits 0x400']);
  });

  it('reports the dirty and corrupt bits like qemu-img info', async () => {
    const p = join(dir, 'dirty.qcow2');
    await qemuImg('create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on', p, String(M));
    await patch(p, 79, Buffer.from([0x03]));
    const [ours, qemu] = await Promise.all([inspect(p), qemuInfo(p)]);
    expect(ours.dirty).toBe(true);
    expect(qemu['dirty-flag']).toBe(true);
    expect(ours.corrupt).toBe(true);
    expect(qemu['format-specific']?.data.corrupt).toBe(true);
  });
});

describe('followBackingChain', () => {
  it('resolves relative names against each image directory and returns the chain', async () => {
    const d = join(dir, 'chain');
    await mkdir(join(d, 'sub'), { recursive: true });
    await copyFile(join(dir, 'base.raw'), join(d, 'sub', 'base.raw'));
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', join(d, 'sub', 'mid.qcow2'));
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'sub/mid.qcow2', '-F', 'qcow2', join(d, 'top.qcow2'));
    const info = await inspect(join(d, 'top.qcow2'), { followBackingChain: true });
    expect(info.chain?.map((l) => [l.path, l.format])).toEqual([
      [join(d, 'sub/mid.qcow2'), 'qcow2'],
      [join(d, 'sub/base.raw'), 'raw'],
    ]);
    expect(info.safety.reasons).toEqual(["backing file: 'sub/mid.qcow2'"]);
    const shallow = await inspect(join(d, 'top.qcow2'), { followBackingChain: { maxDepth: 1 } });
    expect(shallow.chain).toHaveLength(1);
    expect(shallow.safety.reasons).toContain('backing chain is deeper than maxDepth 1');
  });

  it('a loop is IMAGE_INVALID', async () => {
    const d = join(dir, 'loop');
    await mkdir(d);
    await qemuImg('create', '-q', '-f', 'qcow2', join(d, 'a.qcow2'), String(M));
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'a.qcow2', '-F', 'qcow2', join(d, 'b.qcow2'));
    await qemuImg('rebase', '-q', '-u', '-f', 'qcow2', '-b', 'b.qcow2', '-F', 'qcow2', join(d, 'a.qcow2'));
    const err = await inspect(join(d, 'b.qcow2'), { followBackingChain: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageInvalidError);
    expect((err as ImageInvalidError).code).toBe('IMAGE_INVALID');
    expect((err as Error).message).toMatch(/loops back/);
  });

  it('a backing format that disagrees with the file is a reason; a missing base is DISK_NOT_FOUND', async () => {
    const d = join(dir, 'mismatch');
    await mkdir(d);
    await qemuImg('create', '-q', '-f', 'qcow2', join(d, 'base.qcow2'), String(M));
    await qemuImg('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'raw', join(d, 'top.qcow2'));
    const info = await inspect(join(d, 'top.qcow2'), { followBackingChain: true });
    expect(info.safety.reasons).toContain(`backing file '${join(d, 'base.qcow2')}' is qcow2 but recorded as raw`);
    await rm(join(d, 'base.qcow2'));
    const err = await inspect(join(d, 'top.qcow2'), { followBackingChain: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DiskNotFoundError);
    expect((err as DiskNotFoundError).path).toBe(join(d, 'base.qcow2'));
  });
});
