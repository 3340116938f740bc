// qemu-img must not read host files through an untrusted image (issue 13):
// real attack images made with qemu-img (a backing file outside the cache,
// a json: backing, a qcow2 external data file, VMDK extents) against the real
// qemu-img. Each attack is first shown to work with `trusted: true` (qemu-img
// really copies the secret), then shown refused by default with nothing read.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { Backend } from '../../src/backends/Backend.js';
import { cacheFileName } from '../../src/cache/cacheFileName.js';
import { ImageUnsafeError } from '../../src/errors.js';
import { QemuImg } from '../../src/qemu/index.js';
import { rejection } from '../helpers/assert.js';
import { tempDir } from './helpers/system.js';

let dir: string;
let removeDir: () => Promise<void>;
let secret: string; // a file of the host's, outside any cache: the attacker's target
let marker: Buffer; // its bytes, searched for in every output
let cache: string; // stands in for _base
let base: string; // a legitimate cached base
let baseMarker: Buffer;
const qemu = new QemuImg();
const MiB = 1 << 20;

function qemuImg(...args: string[]): void {
  execFileSync('qemu-img', args, { stdio: 'pipe' });
}

async function holds(path: string, needle: Buffer): Promise<boolean> {
  return (await readFile(path)).includes(needle);
}

async function absent(path: string): Promise<void> {
  await expect(stat(path)).rejects.toThrow(/ENOENT/);
}

/** A raw file of `size` bytes with `content` at offset 0. */
async function rawWith(path: string, content: Buffer, size = MiB): Promise<void> {
  await writeFile(path, Buffer.concat([content, Buffer.alloc(size - content.length)]));
}

beforeAll(async () => {
  ({ dir, remove: removeDir } = await tempDir('qemu-safety'));
  marker = Buffer.from(`SECRET-${randomBytes(16).toString('hex')}`);
  secret = join(dir, 'host-secret');
  await rawWith(secret, marker);
  cache = join(dir, '_base');
  await mkdir(cache);
  baseMarker = Buffer.from(`BASE-${randomBytes(16).toString('hex')}`);
  base = join(cache, 'base.raw');
  await rawWith(base, baseMarker);
});
afterAll(async () => {
  await removeDir();
});

describe('QemuImg.convert refuses sources whose header reads other files', () => {
  const attacks: Array<{ name: string; make: (path: string) => Promise<void>; format: string }> = [
    {
      name: 'a qcow2 whose backing file is a host file outside the cache',
      format: 'qcow2',
      make: async (path) => qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', secret, path),
    },
    {
      name: 'a qcow2 whose backing file is a json: pseudo-protocol naming a host file',
      format: 'qcow2',
      make: async (path) =>
        qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', `json:{"driver":"raw","file":{"driver":"file","filename":"${secret}"}}`, path, '1M'),
    },
    {
      name: 'a qcow2 with an external data file (the host file)',
      format: 'qcow2',
      make: async (path) => {
        // qemu-img create makes the data file; the host file takes its place after.
        const data = `${path}.data`;
        qemuImg('create', '-f', 'qcow2', '-o', `data_file=${data},data_file_raw=on`, path, '1M');
        await writeFile(data, await readFile(secret));
      },
    },
    {
      name: 'a VMDK descriptor whose FLAT extent is the host file (absolute path)',
      format: 'vmdk',
      make: async (path) =>
        writeFile(path, `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 2048 FLAT "${secret}" 0\n`),
    },
    {
      name: 'a VMDK descriptor whose extent is a relative path to the host file',
      format: 'vmdk',
      make: async (path) =>
        writeFile(path, `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 2048 FLAT "../host-secret" 0\n`),
    },
  ];

  for (const [i, attack] of attacks.entries()) {
    it(attack.name, async () => {
      const sub = join(dir, `attack-${i}`);
      await mkdir(sub);
      const image = join(sub, `evil.${attack.format}`);
      await attack.make(image);

      // The attack is real: trusted (the old behaviour), qemu-img copies the secret.
      const leaked = join(sub, 'trusted-out.raw');
      await qemu.convert(image, leaked, { srcFormat: attack.format, dstFormat: 'raw', trusted: true });
      expect(await holds(leaked, marker)).toBe(true);

      // By default: refused before qemu-img runs, nothing written.
      const out = join(sub, 'out.raw');
      const error = await rejection(qemu.convert(image, out, { srcFormat: attack.format, dstFormat: 'raw' }));
      expect(error.code).toBe('IMAGE_UNSAFE');
      expect(error).toBeInstanceOf(ImageUnsafeError);
      expect((error as ImageUnsafeError).reasons.length).toBeGreaterThan(0);
      await absent(out);
      const compressed = join(sub, 'out.qcow2');
      expect((await rejection(qemu.convert(image, compressed, { srcFormat: attack.format, dstFormat: 'qcow2', compress: true }))).code).toBe(
        'IMAGE_UNSAFE',
      );
      await absent(compressed);
    });
  }

  it('a source whose header is another format than the one asked for is refused (qemu would open it as that format)', async () => {
    const image = join(dir, 'mismatch.qcow2');
    qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', secret, image);
    const error = await rejection(qemu.convert(image, join(dir, 'mismatch.out'), { srcFormat: 'vmdk', dstFormat: 'raw' }));
    expect(error.code).toBe('IMAGE_UNSAFE');
    expect(error.message).toMatch(/opened as vmdk but its header is qcow2/);
    // As raw, qemu reads the file's own bytes only: the header, never the secret.
    const asRaw = join(dir, 'mismatch-raw.out');
    await qemu.convert(image, asRaw, { srcFormat: 'raw', dstFormat: 'raw' });
    expect(await holds(asRaw, marker)).toBe(false);
    expect((await readFile(asRaw)).subarray(0, 4).toString('latin1')).toBe('QFI\xfb');
  });

  it('a malformed header found by the inspection is refused with the code qemu-img\'s own refusal has', async () => {
    const broken = join(dir, 'broken.qcow2');
    qemuImg('create', '-f', 'qcow2', broken, '1M');
    const bytes = await readFile(broken);
    bytes.writeUInt32BE(200, 20); // cluster_bits far out of range
    await writeFile(broken, bytes);
    const out = join(dir, 'broken.raw');
    const convert = await rejection(qemu.convert(broken, out, { srcFormat: 'qcow2', dstFormat: 'raw' }));
    expect(convert.code).toBe('IMAGE_UNACCEPTABLE');
    expect((convert.cause as { code?: string }).code).toBe('IMAGE_INVALID');
    await absent(out);
    expect((await rejection(qemu.info(broken, { format: 'qcow2' }))).code).toBe('INVALID_DISK_INFO');
  });

  it('a program that stands in for qemu-img is never started for a refused source', async () => {
    const fake = join(dir, 'fake-qemu-img');
    const ran = join(dir, 'fake-ran');
    await writeFile(fake, `#!/bin/sh\necho "$@" >> ${ran}\n`, { mode: 0o755 });
    const image = join(dir, 'never.qcow2');
    qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', secret, image);
    const fakeQemu = new QemuImg({ qemuImg: fake });
    expect((await rejection(fakeQemu.convert(image, join(dir, 'never.out'), { srcFormat: 'qcow2', dstFormat: 'raw' }))).code).toBe('IMAGE_UNSAFE');
    await absent(ran);
  });
});

describe('QemuImg.convert with the legitimate backing file named explicitly', () => {
  it('extracts a qcow2 overlay on its cached base, opening the named base and not what the header says', async () => {
    const overlay = join(dir, 'overlay.qcow2');
    qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', base, overlay);
    // A legitimate overlay: refused without the backing named (or trusted)...
    const refused = join(dir, 'overlay-refused.raw');
    expect((await rejection(qemu.convert(overlay, refused, { srcFormat: 'qcow2', dstFormat: 'raw' }))).code).toBe('IMAGE_UNSAFE');
    await absent(refused);
    // ...and extracted with it.
    const out = join(dir, 'overlay-out.raw');
    await qemu.convert(overlay, out, { srcFormat: 'qcow2', dstFormat: 'raw', backing: { path: base, format: 'raw' } });
    expect(await holds(out, baseMarker)).toBe(true);

    // The header re-pointed at the host file: qemu-img still opens only the named base.
    qemuImg('rebase', '-u', '-f', 'qcow2', '-F', 'raw', '-b', secret, overlay);
    const forced = join(dir, 'overlay-forced.qcow2');
    await qemu.convert(overlay, forced, { srcFormat: 'qcow2', dstFormat: 'qcow2', compress: true, backing: { path: base, format: 'raw' } });
    const back = join(dir, 'overlay-forced.raw');
    await qemu.convert(forced, back, { srcFormat: 'qcow2', dstFormat: 'raw' });
    expect(await holds(back, baseMarker)).toBe(true);
    expect(await holds(back, marker)).toBe(false);
  });

  it('paths with commas, quotes and braces reach qemu-img as plain names', async () => {
    const odd = join(dir, 'odd,dir "x" {y}');
    await mkdir(odd);
    const oddBase = join(odd, 'base,raw');
    await rawWith(oddBase, baseMarker);
    const overlay = join(odd, 'over,lay.qcow2');
    qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', secret, overlay);
    const out = join(odd, 'out.raw');
    await qemu.convert(overlay, out, { srcFormat: 'qcow2', dstFormat: 'raw', backing: { path: oddBase, format: 'raw' } });
    expect(await holds(out, baseMarker)).toBe(true);
    expect(await holds(out, marker)).toBe(false);
  });

  it('a qcow2 base named as backing must itself be safe, and gets no backing of its own', async () => {
    const chainedBase = join(cache, 'chained.qcow2');
    qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', secret, chainedBase);
    const overlay = join(dir, 'overlay-on-chained.qcow2');
    qemuImg('create', '-f', 'qcow2', '-F', 'qcow2', '-b', chainedBase, overlay);
    const out = join(dir, 'chained.raw');
    const error = await rejection(qemu.convert(overlay, out, { srcFormat: 'qcow2', dstFormat: 'raw', backing: { path: chainedBase, format: 'qcow2' } }));
    expect(error.code).toBe('IMAGE_UNSAFE');
    await absent(out);

    const plainBase = join(cache, 'plain.qcow2');
    qemuImg('convert', '-f', 'raw', '-O', 'qcow2', base, plainBase);
    const overlay2 = join(dir, 'overlay-on-plain.qcow2');
    qemuImg('create', '-f', 'qcow2', '-F', 'qcow2', '-b', plainBase, overlay2);
    await qemu.convert(overlay2, out, { srcFormat: 'qcow2', dstFormat: 'raw', backing: { path: plainBase, format: 'qcow2' } });
    expect(await holds(out, baseMarker)).toBe(true);
  });

  it('refuses a backing for an image without one, and compress for a non-qcow2 target', async () => {
    const plain = join(dir, 'plain-top.qcow2');
    qemuImg('create', '-f', 'qcow2', plain, '1M');
    const error = await rejection(qemu.convert(plain, join(dir, 'x.raw'), { srcFormat: 'qcow2', dstFormat: 'raw', backing: { path: base, format: 'raw' } }));
    expect(error.code).toBe('INVALID_ARGUMENT');
    expect((await rejection(qemu.convert(plain, join(dir, 'x.raw'), { srcFormat: 'qcow2', dstFormat: 'raw', compress: true }))).code).toBe('INVALID_ARGUMENT');
  });
});

describe('snapshotExtract of a qcow2 disk', () => {
  it('reads the cached base named explicitly; an overlay re-pointed outside the cache is refused', async () => {
    const instancesPath = join(dir, 'instances');
    const backend = new Backend({ instancesPath, imagesType: 'qcow2' });
    const disk = backend.image({ uuid: '7f3c2b1a-0000-4000-8000-0000000000aa' }, 'disk');
    await disk.cache({
      fetch: async ({ target }) => rawWith(target, baseMarker),
      filename: cacheFileName('safety-image'),
      imageId: 'safety-image',
      size: 2 * MiB,
    });
    const good = join(dir, 'extract-good.raw');
    await disk.snapshotExtract(good, 'raw');
    expect(await holds(good, baseMarker)).toBe(true);

    qemuImg('rebase', '-u', '-f', 'qcow2', '-F', 'raw', '-b', secret, disk.path);
    const bad = join(dir, 'extract-bad.raw');
    expect((await rejection(disk.snapshotExtract(bad, 'raw'))).code).toBe('IMAGE_UNSAFE');
    await absent(bad);
  });
});

describe('QemuImg.info', () => {
  it('refuses a data file or VMDK extents (qemu-img opens them to describe the image); a plain backing file is described', async () => {
    const data = join(dir, 'info-data.qcow2');
    qemuImg('create', '-f', 'qcow2', '-o', `data_file=${join(dir, 'info-data.bin')}`, data, '1M');
    expect((await rejection(qemu.info(data, { format: 'qcow2' }))).code).toBe('IMAGE_UNSAFE');
    const vmdk = join(dir, 'info-extent.vmdk');
    await writeFile(vmdk, `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\nRW 2048 FLAT "${secret}" 0\n`);
    expect((await rejection(qemu.info(vmdk, { format: 'vmdk' }))).code).toBe('IMAGE_UNSAFE');
    // qemu-img info opens an image without its backing file: described, not refused.
    const overlay = join(dir, 'info-overlay.qcow2');
    qemuImg('create', '-f', 'qcow2', '-F', 'raw', '-b', secret, overlay);
    expect((await qemu.info(overlay, { format: 'qcow2' })).backingFilename).toBe(secret);
  });

  it('describes the disk of a running guest (--force-share): qemu-io holds the image write lock meanwhile', async () => {
    const disk = join(dir, 'running.qcow2');
    qemuImg('create', '-f', 'qcow2', disk, '4M');
    // qemu-io with its stdin open keeps the image open read-write, locked, like a guest's qemu.
    const holder = spawn('qemu-io', ['-f', 'qcow2', disk], { stdio: ['pipe', 'pipe', 'pipe'] });
    try {
      let out = '';
      holder.stdout.on('data', (c: Buffer) => (out += c.toString()));
      holder.stdin.write('help\n');
      for (let i = 0; i < 100 && !out.includes('qemu-io>'); i++) await new Promise((r) => setTimeout(r, 50));
      // Without --force-share qemu-img cannot open it: the lock is really held.
      expect(() => execFileSync('qemu-img', ['info', '-f', 'qcow2', disk], { stdio: 'pipe' })).toThrow(/Failed to get shared "write" lock/);
      const info = await qemu.info(disk, { format: 'qcow2' });
      expect(info.virtualSize).toBe(4 * MiB);
    } finally {
      holder.stdin.end('quit\n');
      holder.kill();
    }
  });
});
