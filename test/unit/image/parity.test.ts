// Parity with qemu and nova (issue 14): formats qemu reads that nova refuses
// are recognised (never raw and safe), a raw verdict can be confirmed by
// qemu-img's own probe, a bootable hybrid ISO is one ISO, oslo's MBR/GPT
// checks join the verdict, the VMDK create-type allow-list is configurable,
// and where the inspector and qemu disagree on a well-formed image, qemu wins.
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { inspect } from '../../../src/image/inspect.js';
import { patch } from '../../helpers/files.js';
import { qemuImg, qemuInfo, run } from './qemu.js';

const M = 1 << 20;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ib-parity-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function le32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
function le64(v: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}

/** A bochs "Growing" redolog, version 2: 16 extents of 4 KiB, none allocated. */
async function bochsImage(path: string): Promise<void> {
  const img = Buffer.alloc(512 + 16 * 4, 0);
  img.write('Bochs Virtual HD Image', 0, 'latin1');
  img.write('Redolog', 32, 'latin1');
  img.write('Growing', 48, 'latin1');
  le32(0x00020000).copy(img, 64); // version
  le32(512).copy(img, 68); // header size
  le32(16).copy(img, 72); // catalog entries
  le32(512).copy(img, 76); // bitmap size
  le32(4096).copy(img, 80); // extent size
  le64(16 * 4096).copy(img, 88); // disk size
  img.fill(0xff, 512); // catalog: unallocated
  await writeFile(path, img);
}

/** A cloop v2 image: two 4 KiB blocks (empty zlib streams are not needed to probe). */
async function cloopImage(path: string): Promise<void> {
  const preamble = '#!/bin/sh\n#V2.0 Format\nmodprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n';
  const img = Buffer.alloc(136 + 3 * 8, 0);
  img.write(preamble, 0, 'latin1');
  img.writeUInt32BE(4096, 128);
  img.writeUInt32BE(2, 132);
  for (let i = 0; i < 3; i++) img.writeBigUInt64BE(BigInt(img.length), 136 + 8 * i);
  await writeFile(path, img);
}

describe('formats qemu reads and nova refuses', () => {
  it('parallels (made by qemu-img) is parallels, with qemu-img info agreeing, and unsafe', async () => {
    const p = join(dir, 'disk.parallels');
    await qemuImg('create', '-q', '-f', 'parallels', p, String(64 * M));
    const [ours, qemu] = await Promise.all([inspect(p), qemuInfo(p)]);
    expect(qemu.format).toBe('parallels');
    expect(ours.format).toBe('parallels');
    expect(ours.virtualSize).toBe(qemu['virtual-size']);
    expect(ours.safety.safe).toBe(false);
    expect(ours.safety.reasons).toEqual(['parallels format is not accepted (qemu reads it, nova does not)']);
  });

  it('bochs and cloop (written by hand) are recognised as qemu-img info recognises them, and unsafe', async () => {
    const bochs = join(dir, 'disk.bochs');
    const cloop = join(dir, 'disk.cloop');
    await bochsImage(bochs);
    await cloopImage(cloop);
    for (const [p, format] of [
      [bochs, 'bochs'],
      [cloop, 'cloop'],
    ] as const) {
      const [ours, qemu] = await Promise.all([inspect(p), qemuInfo(p)]);
      expect(qemu.format).toBe(format);
      expect([ours.format, ours.virtualSize]).toEqual([format, qemu['virtual-size']]);
      expect(ours.safety.reasons).toEqual([`${format} format is not accepted (qemu reads it, nova does not)`]);
    }
  });

  it('dmg is recognised by its koly trailer, whatever the file is called, and unsafe', async () => {
    const p = join(dir, 'renamed.img');
    const img = Buffer.alloc(64 * 1024);
    const trailer = img.subarray(img.length - 512);
    trailer.write('koly', 0, 'latin1');
    trailer.writeUInt32BE(4, 4);
    trailer.writeUInt32BE(512, 8);
    trailer.writeBigUInt64BE(2048n, 0x1ec);
    await writeFile(p, img);
    const info = await inspect(p);
    expect([info.format, info.virtualSize, info.safety.safe]).toEqual(['dmg', 2048 * 512, false]);
  });
});

describe('qemuProbe: a raw verdict confirmed by qemu-img probing the file', () => {
  it('a plain raw file stays safe raw', async () => {
    const p = join(dir, 'plain.raw');
    await writeFile(p, Buffer.alloc(M, 1));
    expect((await inspect(p, { qemuProbe: true })).safety).toEqual({ safe: true, reasons: [] });
  });

  it('qemu probing another format than raw is an unsafe reason (qemu probes dmg by name)', async () => {
    // qemu-img picks its dmg driver for a ".dmg" name, and then cannot open
    // these bytes: either way qemu does not read it as the inspector's raw.
    const p = join(dir, 'looks-raw.dmg');
    await writeFile(p, Buffer.alloc(M, 1));
    expect((await inspect(p)).safety.safe).toBe(true);
    const info = await inspect(p, { qemuProbe: true });
    expect(info.format).toBe('raw');
    expect(info.safety.safe).toBe(false);
    expect(info.safety.reasons.join()).toMatch(/qemu-img/);
  });

  it('reports the format qemu names when it differs (a stand-in qemu-img that says vhdx)', async () => {
    const fake = join(dir, 'fake-qemu-img');
    await writeFile(fake, '#!/bin/sh\necho \'{"format": "vhdx", "virtual-size": 1}\'\n');
    await chmod(fake, 0o755);
    const p = join(dir, 'other.raw');
    await writeFile(p, Buffer.alloc(M));
    const info = await inspect(p, { qemuProbe: { qemuImg: fake, limits: { addressSpaceBytes: 2 ** 30 } } });
    expect(info.safety.reasons).toEqual(["qemu-img probes the file as 'vhdx', the inspector as raw"]);
  });
});

describe('qemuProbe: one qemu-img run per unchanged file', () => {
  it('asks qemu-img again only when the file changed (or under another name)', async () => {
    const calls = join(dir, 'probe-calls');
    const fake = join(dir, 'counting-qemu-img');
    await writeFile(fake, `#!/bin/sh\necho run >> '${calls}'\necho '{"format": "raw", "virtual-size": 1}'\n`);
    await chmod(fake, 0o755);
    const p = join(dir, 'probed.raw');
    await writeFile(p, Buffer.alloc(M, 2));
    const runs = async () => (await readFile(calls, 'utf8').catch(() => '')).split('\n').filter(Boolean).length;
    const probe = { qemuProbe: { qemuImg: fake } };
    for (let i = 0; i < 3; i++) expect((await inspect(p, probe)).safety.safe).toBe(true);
    expect(await runs()).toBe(1);
    // A write (same size, same second even) changes the inode's ctime: qemu-img is asked again.
    await writeFile(p, Buffer.alloc(M, 3));
    await inspect(p, probe);
    expect(await runs()).toBe(2);
    // The same bytes under another name are another question (qemu probes dmg by its name).
    const other = join(dir, 'probed-copy.raw');
    await writeFile(other, Buffer.alloc(M, 3));
    await inspect(other, probe);
    expect(await runs()).toBe(3);
  });

  it('makes one qemu-img run for many probes of one file at once (100 disks from one base)', async () => {
    const calls = join(dir, 'probe-calls-at-once');
    const fake = join(dir, 'slow-counting-qemu-img');
    await writeFile(fake, `#!/bin/sh\necho run >> '${calls}'\nsleep 0.2\necho '{"format": "raw", "virtual-size": 1}'\n`);
    await chmod(fake, 0o755);
    const p = join(dir, 'probed-at-once.raw');
    await writeFile(p, Buffer.alloc(M, 4));
    const probe = { qemuProbe: { qemuImg: fake } };
    const infos = await Promise.all(Array.from({ length: 50 }, () => inspect(p, probe)));
    expect(infos.every((i) => i.safety.safe)).toBe(true);
    expect((await readFile(calls, 'utf8')).split('\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('ISO 9660 with a partition table, and oslo MBR/GPT checks', () => {
  let isoDir: string;
  beforeAll(async () => {
    isoDir = join(dir, 'isotree');
    await mkdir(join(isoDir, 'EFI', 'boot'), { recursive: true });
    await writeFile(join(isoDir, 'readme.txt'), 'installer\n');
    await writeFile(join(isoDir, 'EFI', 'boot', 'efi.img'), Buffer.alloc(64 * 1024));
  });

  it('a bootable hybrid ISO (ISO 9660 + GPT, as xorriso builds installers) is a safe ISO, not two formats', async () => {
    const p = join(dir, 'hybrid-gpt.iso');
    await run(
      'xorriso',
      ['-as', 'mkisofs', '-quiet', '-o', p, '-V', 'TEST', '-e', 'EFI/boot/efi.img', '-no-emul-boot',
        '-append_partition', '2', '0xef', join(isoDir, 'EFI', 'boot', 'efi.img'), '-appended_part_as_gpt', isoDir],
      'xorriso',
    );
    const bytes = await readFile(p);
    expect(bytes.subarray(512, 520).toString('latin1')).toBe('EFI PART');
    const [ours, qemu] = await Promise.all([inspect(p), qemuInfo(p)]);
    expect(qemu.format).toBe('raw');
    expect(ours.format).toBe('raw');
    expect(ours.contentHints.slice(0, 2)).toEqual(['iso', 'gpt']);
    expect(ours.safety).toEqual({ safe: true, reasons: [] });
  });

  it('an isohybrid ISO with an MBR only is a safe ISO too', async () => {
    const p = join(dir, 'hybrid-mbr.iso');
    await run(
      'xorriso',
      ['-as', 'mkisofs', '-quiet', '-o', p, '-V', 'TEST', '-e', 'EFI/boot/efi.img', '-no-emul-boot',
        '-isohybrid-gpt-basdat', '--protective-msdos-label', isoDir],
      'xorriso',
    );
    const info = await inspect(p);
    expect(info.contentHints).toContain('iso');
    expect(info.contentHints).toContain('mbr');
    expect(info.safety).toEqual({ safe: true, reasons: [] });
  });

  async function mbrDisk(name: string, entries: Array<[number, Buffer]>): Promise<string> {
    const p = join(dir, name);
    await writeFile(p, Buffer.alloc(M));
    await patch(p, 510, Buffer.from([0x55, 0xaa]));
    for (const [i, entry] of entries) await patch(p, 446 + 16 * i, entry);
    return p;
  }
  const pte = (boot: number, chs: [number, number, number], type: number, lba: number, sectors: number): Buffer =>
    Buffer.concat([Buffer.from([boot, ...chs, type, 0xfe, 0xff, 0xff]), le32(lba), le32(sectors)]);

  it('a raw disk with a sane MBR partition, or a proper protective MBR, is safe', async () => {
    const dos = await mbrDisk('dos.img', [[0, pte(0x80, [0, 33, 0], 0x83, 2048, 100)]]);
    expect((await inspect(dos)).safety).toEqual({ safe: true, reasons: [] });
    const gpt = await mbrDisk('gpt.img', [[0, pte(0, [0, 2, 0], 0xee, 1, 2047)]]);
    await patch(gpt, 512, 'EFI PART');
    expect((await inspect(gpt)).safety).toEqual({ safe: true, reasons: [] });
  });

  it.each([
    ['a bad boot flag', [[0, pte(0x42, [0, 33, 0], 0x83, 2048, 100)]], 'MBR partition 0 has an invalid boot flag'],
    ['a protective entry at the wrong CHS', [[0, pte(0, [0, 3, 0], 0xee, 1, 2047)]], 'GPT protective MBR has an invalid start CHS'],
    ['a protective entry at the wrong LBA', [[0, pte(0, [0, 2, 0], 0xee, 2, 2047)]], 'GPT protective MBR has an invalid start LBA'],
    [
      'a protective MBR with another partition',
      [
        [0, pte(0, [0, 2, 0], 0xee, 1, 2047)],
        [1, pte(0, [0, 33, 0], 0x83, 2048, 100)],
      ],
      'GPT protective MBR defines other partitions',
    ],
    ['a signature and no partition', [], 'MBR defines no partitions'],
  ] as Array<[string, Array<[number, Buffer]>, string]>)('a raw disk with %s is unsafe', async (name, entries, reason) => {
    const p = await mbrDisk(`mbr-${name.replace(/\W+/g, '-')}.img`, entries);
    const info = await inspect(p);
    expect(info.format).toBe('raw');
    expect(info.safety.reasons).toEqual([reason]);
  });

  it('a FAT file system (a boot sector, not an MBR) is not checked as a partition table', async () => {
    // A FAT boot sector as mkfs.fat writes it: jump, OEM name, a BPB with two
    // FATs (0x10) and the fixed-disk media byte (0x15), boot code, signature.
    const p = join(dir, 'fat.img');
    const sector = Buffer.alloc(512, 0x90);
    Buffer.from([0xeb, 0x3c, 0x90]).copy(sector, 0);
    sector.write('mkfs.fat', 3, 'latin1');
    sector.writeUInt16LE(512, 0x0b);
    sector[0x0d] = 4;
    sector.writeUInt16LE(4, 0x0e);
    sector[0x10] = 2;
    sector[0x15] = 0xf8;
    sector[510] = 0x55;
    sector[511] = 0xaa;
    await writeFile(p, Buffer.concat([sector, Buffer.alloc(4 * M - 512)]));
    expect((await inspect(p)).safety).toEqual({ safe: true, reasons: [] });
    // The same sector without the BPB's FAT markers is an MBR with a bad boot flag.
    sector[0x10] = 0x90;
    await patch(p, 0, sector);
    expect((await inspect(p)).safety.safe).toBe(false);
  });
});

describe('vmdkAllowedTypes (nova vmdk_allowed_types)', () => {
  it('defaults to streamOptimized and monolithicSparse; an empty list refuses every vmdk', async () => {
    const sparse = join(dir, 'a.vmdk');
    const stream = join(dir, 'b.vmdk');
    await qemuImg('create', '-q', '-f', 'vmdk', sparse, String(M));
    await qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=streamOptimized', stream, String(M));
    for (const p of [sparse, stream]) {
      expect((await inspect(p)).safety.safe).toBe(true);
      expect((await inspect(p, { vmdkAllowedTypes: [] })).safety.reasons).toEqual(['vmdk images are not allowed (vmdkAllowedTypes is empty)']);
    }
    const onlyStream = await inspect(sparse, { vmdkAllowedTypes: ['streamOptimized'] });
    expect(onlyStream.safety.reasons).toEqual(["vmdk create type 'monolithicSparse' is not allowed (allowed: streamOptimized)"]);
  });

  it('a monolithicFlat descriptor is refused by default and accepted (apart from its extent) when listed', async () => {
    const p = join(dir, 'flat2.vmdk');
    await qemuImg('create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', p, String(M));
    expect((await inspect(p)).safety.reasons).toContain("vmdk create type 'monolithicFlat' is not allowed (allowed: streamOptimized, monolithicSparse)");
    expect((await inspect(p, { vmdkAllowedTypes: ['monolithicFlat'] })).safety.reasons).toEqual([
      "vmdk extent references another file: 'flat2-flat.vmdk'",
    ]);
  });

  it('a KDMV file whose embedded descriptor claims a type outside the list is refused; qemu reports the header type', async () => {
    const p = join(dir, 'claims.vmdk');
    await qemuImg('create', '-q', '-f', 'vmdk', p, String(M));
    const bytes = await readFile(p);
    const at = bytes.indexOf('createType="monolithicSparse"');
    expect(at).toBeGreaterThan(0);
    // Same length, so the descriptor stays well-formed.
    await patch(p, at, 'createType="vmfsSparse"\n#######');
    const [ours, qemu] = await Promise.all([inspect(p), qemuInfo(p)]);
    expect(qemu['format-specific']?.data['create-type']).toBe('monolithicSparse');
    expect(ours.formatSpecific.data.createType).toBe('monolithicSparse');
    expect(ours.formatSpecific.data.descriptorCreateType).toBe('vmfsSparse');
    expect(ours.safety.reasons).toEqual([
      "vmdk descriptor claims create type 'vmfsSparse', which is not allowed (allowed: streamOptimized, monolithicSparse)",
    ]);
    expect((await inspect(p, { vmdkAllowedTypes: ['monolithicSparse', 'vmfsSparse'] })).safety.safe).toBe(true);
  });
});

describe('where qemu and the inspector disagreed, qemu wins', () => {
  it('a raw file whose size is not a multiple of 512 has the rounded-up virtual size', async () => {
    for (const size of [1, 511, 1000001, M + 1]) {
      const p = join(dir, `odd${size}.raw`);
      await writeFile(p, Buffer.alloc(size, 3));
      const [ours, qemu] = await Promise.all([inspect(p), qemuInfo(p)]);
      expect([ours.virtualSize, ours.fileSize]).toEqual([qemu['virtual-size'], size]);
    }
  });
});
