// Malformed and hostile inputs: truncated headers, impossible fields, junk
// descriptors, random mutations. Each must give IMAGE_INVALID or a sane
// result; a crash would take the test worker down with it.
import { randomBytes } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ImageInvalidError } from '../../../src/errors.js';
import { inspect, type ImageInfo } from '../../../src/image/inspect.js';
import { patch } from '../../helpers/files.js';
import { qemuImg, qemuImgRetrying } from './qemu.js';

const M = 1 << 20;
let dir: string;
const samples: Record<string, string> = {};


const FORMATS = ['raw', 'qcow2', 'qed', 'vmdk', 'vpc', 'vhdx', 'vdi', 'luks'];

/** Resolves to the info when sane, to 'invalid' for IMAGE_INVALID; anything else fails. */
async function outcome(path: string): Promise<ImageInfo | 'invalid'> {
  try {
    const info = await inspect(path);
    expect(FORMATS).toContain(info.format);
    expect(Number.isSafeInteger(info.virtualSize) && info.virtualSize >= 0).toBe(true);
    expect(typeof info.safety.safe).toBe('boolean');
    return info;
  } catch (error) {
    if (error instanceof ImageInvalidError) {
      expect(error.code).toBe('IMAGE_INVALID');
      expect(error.message).toMatch(/^Image '.*' is invalid: .+/);
      return 'invalid';
    }
    throw error;
  }
}

// A small deterministic PRNG so a failing mutation can be replayed.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s;
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ib-malformed-'));
  const mk = async (name: string, ...args: string[]): Promise<void> => {
    samples[name] = join(dir, name);
    await qemuImg('create', '-q', ...args.map((a) => (a === 'FILE' ? samples[name] ?? '' : a)));
  };
  await qemuImg('create', '-q', '-f', 'raw', join(dir, 'base.raw'), String(M));
  await mk('qcow2', '-f', 'qcow2', '-b', 'base.raw', '-F', 'raw', 'FILE');
  await mk('qcow2v2', '-f', 'qcow2', '-o', 'compat=0.10,cluster_size=512', 'FILE', String(M));
  // qemu-img create resolves a relative data_file against its cwd, not the image: pass it absolute.
  await mk('qcow2df', '-f', 'qcow2', '-o', `data_file=${join(dir, 'df.raw')},cluster_size=4096`, 'FILE', String(M));
  await mk('qed', '-f', 'qed', '-b', 'base.raw', '-F', 'raw', 'FILE');
  await mk('vmdk', '-f', 'vmdk', 'FILE', String(M));
  await mk('stream', '-f', 'vmdk', '-o', 'subformat=streamOptimized', 'FILE', String(M));
  await mk('flat', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', 'FILE', String(M));
  await mk('vpc', '-f', 'vpc', 'FILE', String(M));
  await mk('vhdx', '-f', 'vhdx', 'FILE', String(M));
  await mk('vdi', '-f', 'vdi', 'FILE', String(M));
  samples.luks = join(dir, 'luks');
  await qemuImgRetrying('create', '--object', 'secret,id=s,data=x', '-q', '-f', 'luks', '-o', 'key-secret=s,iter-time=10', samples.luks, String(M));
  // A dozen qemu-img runs: slow under the sanitizer build's preload on a busy host.
}, 120_000);
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('truncated images', () => {
  const cuts = [0, 1, 3, 4, 7, 8, 16, 20, 24, 32, 48, 64, 71, 72, 100, 103, 104, 111, 112, 200, 256, 400, 511, 512, 513,
    1024, 1536, 2048, 4096, 8192, 65536, 0x30000, 0x30010, 0x40000, 0x100000];
  it.each(['qcow2', 'qcow2v2', 'qcow2df', 'qed', 'vmdk', 'stream', 'flat', 'vpc', 'vhdx', 'vdi', 'luks'])(
    '%s cut at many offsets is IMAGE_INVALID or sane',
    async (name) => {
      const src = samples[name] ?? '';
      const size = (await readFile(src)).length;
      let invalid = 0;
      for (const cut of [...cuts, size - 1, size - 512, size - 1024].filter((c) => c >= 0 && c < size)) {
        const p = join(dir, `${name}-cut`);
        await copyFile(src, p);
        await truncate(p, cut);
        if ((await outcome(p)) === 'invalid') invalid++;
      }
      expect(invalid).toBeGreaterThan(0);
    },
  );
});

describe('impossible header fields', () => {
  async function mutated(name: string, offset: number, bytes: Buffer | string): Promise<string> {
    const p = join(dir, `${name}-mut`);
    await copyFile(samples[name] ?? '', p);
    await patch(p, offset, bytes);
    return p;
  }
  async function invalid(p: string, reason: RegExp): Promise<void> {
    const err = await inspect(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageInvalidError);
    expect((err as Error).message).toMatch(reason);
  }

  it.each([0, 1, 8, 22, 63, 0xffffffff])('qcow2 cluster_bits %i', async (bits) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(bits);
    await invalid(await mutated('qcow2', 20, b), /cluster_bits \d+ is outside 9\.\.21/);
  });

  it('qcow2 backing file offset beyond the cluster or past EOF', async () => {
    await invalid(await mutated('qcow2', 8, Buffer.from('00000000fffffff0', 'hex')), /backing file offset/);
    const p = await mutated('qcow2', 0, Buffer.alloc(0));
    await truncate(p, 0x100); // the name lives at 0x210
    await invalid(p, /backing file name|L1 table/);
    await invalid(await mutated('qcow2', 16, Buffer.from('00000400', 'hex')), /backing file name is too long/);
  });

  it('qcow2 L1 table past EOF, too small, or misaligned', async () => {
    await invalid(await mutated('qcow2', 40, Buffer.from('0000010000000000', 'hex')), /L1 table lies past the end/);
    await invalid(await mutated('qcow2', 36, Buffer.from('00000000', 'hex')), /L1 table is too small/);
    await invalid(await mutated('qcow2', 40, Buffer.from('0000000000030008', 'hex')), /not cluster aligned/);
  });

  it('qcow2 version, header length, compression type and data-file bits', async () => {
    await invalid(await mutated('qcow2', 4, Buffer.from('00000004', 'hex')), /unsupported qcow2 version 4/);
    await invalid(await mutated('qcow2', 4, Buffer.from('00000001', 'hex')), /version 1/);
    await invalid(await mutated('qcow2', 100, Buffer.from('00000010', 'hex')), /header_length/);
    await invalid(await mutated('qcow2', 104, Buffer.from('07', 'hex')), /compression type/);
    await invalid(await mutated('qcow2', 79, Buffer.from('04', 'hex')), /names no data file/);
    await invalid(await mutated('qcow2', 32, Buffer.from('00000007', 'hex')), /encryption method/);
  });

  it('qcow2 header extension longer than the header area', async () => {
    await invalid(await mutated('qcow2', 0x74, Buffer.from('00100000', 'hex')), /header extension .* too large/);
  });

  it('vmdk descriptor junk (embedded and text) is IMAGE_INVALID', async () => {
    await invalid(await mutated('vmdk', 0x200 + 30, '\nrm -rf / please\n'), /vmdk descriptor line \d+ is not understood/);
    await invalid(await mutated('vmdk', 0x200 + 30, '\n\x01\x02\x03binary\n'), /non-text bytes/);
    const flat = await readFile(samples.flat ?? '', 'utf8');
    await writeFile(join(dir, 'junk.vmdk'), flat.replace(/RW \d+ FLAT/, 'RW lots FLAT'));
    await invalid(join(dir, 'junk.vmdk'), /extent size is not a number/);
    await writeFile(join(dir, 'junk2.vmdk'), flat.replace(/"[^"]*" 0/, '"unterminated 0'));
    await invalid(join(dir, 'junk2.vmdk'), /not terminated/);
    await writeFile(join(dir, 'junk3.vmdk'), flat.replace(/createType=.*\n/, ''));
    await invalid(join(dir, 'junk3.vmdk'), /no createType/);
  });

  it('vmdk sparse header with absurd grain table size or granularity', async () => {
    await invalid(await mutated('vmdk', 44, Buffer.from('00100000', 'hex')), /grain table size/);
    await invalid(await mutated('vmdk', 20, Buffer.from('0000000001000000', 'hex')), /granularity/);
  });

  it('vhd, vhdx, vdi, qed, luks with broken fields', async () => {
    await invalid(await mutated('vpc', 60, Buffer.from('00000009', 'hex')), /vhd disk type/);
    await invalid(await mutated('vpc', 16, Buffer.from('00000000ffff0000', 'hex')), /dynamic disk header/);
    // qemu reads only the first region table (the backup never): with it broken, the image is invalid.
    const vhdx = await mutated('vhdx', 0x30000, 'XXXX');
    await invalid(vhdx, /region table signature/);
    await expect(qemuImg('info', '-f', 'vhdx', vhdx)).rejects.toThrow(/Invalid argument/);
    // Bytes of the table that no longer match its CRC-32C, as qemu checks it.
    const crc = await mutated('vhdx', 0x30000 + 4096, 'XXXX');
    await invalid(crc, /region table checksum/);
    await expect(qemuImg('info', '-f', 'vhdx', crc)).rejects.toThrow(/Invalid argument/);
    await invalid(await mutated('vdi', 0x44, Buffer.from('00000200', 'hex')), /unsupported vdi version/);
    await invalid(await mutated('vdi', 0x178, Buffer.from('00000001', 'hex')), /block size/);
    await invalid(await mutated('qed', 4, Buffer.from('00020000', 'hex')), /qed cluster size/);
    await invalid(await mutated('luks', 104, Buffer.from('7fffffff', 'hex')), /payload offset/);
  });
});

describe('garbage', () => {
  it('10 MB of random bytes is raw (or invalid), never a crash', async () => {
    const p = join(dir, 'garbage');
    await writeFile(p, randomBytes(10 * M));
    const r = await outcome(p);
    expect(r === 'invalid' || r.format === 'raw').toBe(true);
  });

  it.each(['QFI\xfb', 'QED\0', 'KDMV', 'conectix', 'vhdxfile', 'LUKS\xba\xbe\x00\x01', '# Disk DescriptorFile\nversion=1\n'])(
    'random bytes behind the magic %j',
    async (magic) => {
      for (let i = 0; i < 20; i++) {
        const p = join(dir, 'magic');
        const b = randomBytes(256 * 1024);
        b.write(magic, 0, 'latin1');
        await writeFile(p, b);
        await outcome(p);
      }
    },
  );

  it('seeded byte mutations of every sample header', async () => {
    const next = prng(20240601);
    for (const name of Object.keys(samples)) {
      const orig = await readFile(samples[name] ?? '');
      for (let i = 0; i < 60; i++) {
        const b = Buffer.from(orig);
        const flips = 1 + (next() % 8);
        for (let f = 0; f < flips; f++) {
          // Mostly the first 4 KiB (headers), sometimes anywhere in the first 512 KiB (vhdx tables).
          const span = next() % 4 === 0 ? Math.min(b.length, 512 * 1024) : Math.min(b.length, 4096);
          b[next() % span] = next() & 0xff;
        }
        const p = join(dir, `${name}-fuzz`);
        await writeFile(p, b);
        await outcome(p);
      }
    }
  });
});
