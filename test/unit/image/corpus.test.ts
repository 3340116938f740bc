// Corpus: images made by real `qemu-img create/convert` in every format qemu
// writes, each inspected natively and compared with `qemu-img info` field by
// field. The expectations are qemu's own output, so this is an agreement test.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { inspect, type ImageInfo } from '../../../src/image/inspect.js';
import { qemuImg, qemuImgRetrying, qemuInfo, type QemuInfo } from './qemu.js';

interface Case {
  name: string;
  /** qemu-img arguments; FILE is replaced by the image path. */
  args: string[];
  safe: boolean;
  luks?: boolean;
  /**
   * A vmdk descriptor with extent files: qemu opens the extents and reports
   * their allocation and grain size; the inspector never opens other files.
   */
  multiFile?: boolean;
}

const M = 1 << 20;
const G = 1 << 30;
const SECRET = ['--object', 'secret,id=sec0,data=x'];

function create(fmt: string, size: number | string, opts: string[] = [], extra: Partial<Case> = {}): Case {
  const o = opts.length ? ['-o', opts.join(',')] : [];
  return {
    name: `${fmt} ${size} ${opts.join(',')}`.trim(),
    args: ['create', '-q', '-f', fmt, ...o, 'FILE', String(size)].filter((a) => a !== ''),
    safe: true,
    ...extra,
  };
}

const cases: Case[] = [
  // raw, several sizes and preallocation modes
  ...[0, M, M + 512, 1000001, 1.5 * G, 10 * G].map((s) => create('raw', s)),
  ...['off', 'falloc', 'full'].map((p) => create('raw', 4 * M, [`preallocation=${p}`])),
  // qcow2 v2 and v3, every cluster size
  create('qcow2', M, ['compat=0.10']),
  create('qcow2', 10 * G, ['compat=0.10', 'cluster_size=4096']),
  ...[512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, M, 2 * M].map((c) =>
    create('qcow2', 64 * M, [`cluster_size=${c}`]),
  ),
  ...[16384, 65536, 2 * M].map((c) => create('qcow2', 64 * M, [`cluster_size=${c}`, 'extended_l2=on'])),
  create('qcow2', M + 512),
  create('qcow2', 1.5 * G),
  create('qcow2', 10 * G, ['cluster_size=512']),
  create('qcow2', 16 * M, ['lazy_refcounts=on']),
  create('qcow2', 16 * M, ['compression_type=zstd']),
  create('qcow2', 16 * M, ['refcount_bits=1']),
  create('qcow2', 16 * M, ['refcount_bits=64']),
  ...['metadata', 'falloc', 'full'].map((p) => create('qcow2', 8 * M, [`preallocation=${p}`])),
  create('qcow2', 8 * M, ['compat=0.10', 'preallocation=metadata']),
  // backing files and external data files
  { ...create('qcow2', '', ['backing_file=base.raw', 'backing_fmt=raw']), safe: false },
  { ...create('qcow2', 2 * M, ['backing_file=base.raw', 'backing_fmt=raw']), safe: false },
  { ...create('qcow2', '', ['backing_file=base.qcow2', 'backing_fmt=qcow2', 'cluster_size=4096']), safe: false },
  { ...create('qcow2', '', ['backing_file=BASEDIR/base.raw', 'backing_fmt=raw']), safe: false },
  { ...create('qcow2', '', ['compat=0.10', 'backing_file=base.raw', 'backing_fmt=raw']), safe: false },
  { ...create('qcow2', 4 * M, ['data_file=FILE.data']), safe: false },
  { ...create('qcow2', 4 * M, ['data_file=FILE.data', 'data_file_raw=on']), safe: false },
  // encryption (luks inside qcow2, and plain luks)
  {
    ...create('qcow2', 4 * M, ['encrypt.format=luks', 'encrypt.key-secret=sec0', 'encrypt.iter-time=10']),
    luks: true,
  },
  { ...create('luks', 4 * M, ['key-secret=sec0', 'iter-time=10']), luks: true },
  { ...create('luks', M + 512, ['key-secret=sec0', 'iter-time=10']), luks: true },
  // qed
  { ...create('qed', 16 * M), safe: false },
  { ...create('qed', '', ['backing_file=base.raw', 'backing_fmt=raw']), safe: false },
  { ...create('qed', 10 * G, ['cluster_size=4096']), safe: false },
  // vmdk
  create('vmdk', 16 * M),
  create('vmdk', 10 * G, ['subformat=monolithicSparse']),
  create('vmdk', 16 * M, ['subformat=streamOptimized']),
  create('vmdk', M + 512, ['subformat=monolithicSparse', 'compat6=on']),
  { ...create('vmdk', 16 * M, ['subformat=monolithicFlat']), safe: false, multiFile: true },
  { ...create('vmdk', 5 * G, ['subformat=twoGbMaxExtentSparse']), safe: false, multiFile: true },
  { ...create('vmdk', 5 * G, ['subformat=twoGbMaxExtentFlat']), safe: false, multiFile: true },
  // vpc: dynamic (probed as vpc) and fixed (probed as raw: no footer copy at 0)
  create('vpc', 16 * M),
  create('vpc', 1000000),
  create('vpc', 10 * G),
  create('vpc', 16 * M, ['subformat=dynamic', 'force_size=on']),
  create('vpc', 10 * G + 512, ['force_size=on']),
  create('vpc', 16 * M, ['subformat=fixed']),
  create('vpc', 1000000, ['subformat=fixed', 'force_size=on']),
  // vhdx
  create('vhdx', 16 * M),
  create('vhdx', 10 * G),
  create('vhdx', M + 512),
  create('vhdx', 16 * M, ['subformat=fixed']),
  create('vhdx', 64 * M, ['block_size=8388608']),
  create('vhdx', 64 * M, ['block_size=268435456', 'log_size=4194304']),
  // vdi
  create('vdi', 16 * M),
  create('vdi', 1.5 * G),
  create('vdi', 8 * M, ['static=on']),
  create('vdi', M + 512),
  // parallels: qemu reads and writes it, nova refuses it
  { ...create('parallels', 64 * M), safe: false },
  { ...create('parallels', 10 * G, ['cluster_size=4096']), safe: false },
  { name: 'convert raw->parallels', args: ['convert', '-q', '-O', 'parallels', 'DATA', 'FILE'], safe: false },
  // convert from a raw image with data
  { name: 'convert raw->qcow2 compressed', args: ['convert', '-q', '-c', '-O', 'qcow2', 'DATA', 'FILE'], safe: true },
  { name: 'convert raw->qcow2 v2', args: ['convert', '-q', '-O', 'qcow2', '-o', 'compat=0.10', 'DATA', 'FILE'], safe: true },
  {
    name: 'convert raw->vmdk streamOptimized',
    args: ['convert', '-q', '-O', 'vmdk', '-o', 'subformat=streamOptimized', 'DATA', 'FILE'],
    safe: true,
  },
  { name: 'convert raw->vhdx', args: ['convert', '-q', '-O', 'vhdx', 'DATA', 'FILE'], safe: true },
  { name: 'convert raw->vpc', args: ['convert', '-q', '-O', 'vpc', 'DATA', 'FILE'], safe: true },
  { name: 'convert raw->vdi', args: ['convert', '-q', '-O', 'vdi', 'DATA', 'FILE'], safe: true },
  { name: 'convert raw->qed', args: ['convert', '-q', '-O', 'qed', 'DATA', 'FILE'], safe: false },
  { name: 'convert raw->raw', args: ['convert', '-q', '-O', 'raw', 'DATA', 'FILE'], safe: true },
];

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ib-corpus-'));
  await qemuImg('create', '-q', '-f', 'raw', join(dir, 'base.raw'), String(3 * M));
  await qemuImg('create', '-q', '-f', 'qcow2', join(dir, 'base.qcow2'), String(5 * M));
  // A data image: random blocks between holes, so converts have real clusters.
  const data = Buffer.alloc(6 * M);
  for (let i = 0; i < 6; i += 2) randomBytes(256 * 1024).copy(data, i * M + 4096);
  await writeFile(join(dir, 'data.raw'), data);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function expectAgreement(file: string, ours: ImageInfo, qemu: QemuInfo, c: Case): void {
  const where = `${c.name} (${file})`;
  expect(ours.format, `${where}: format`).toBe(qemu.format);
  expect(ours.virtualSize, `${where}: virtual-size`).toBe(qemu['virtual-size']);
  if (!c.multiFile) {
    expect(ours.actualSize, `${where}: actual-size`).toBe(qemu['actual-size']);
    expect(ours.clusterSize, `${where}: cluster-size`).toBe(qemu['cluster-size']);
  }
  expect(ours.backingFile, `${where}: backing-filename`).toBe(qemu['backing-filename']);
  expect(ours.fullBackingFile, `${where}: full-backing-filename`).toBe(qemu['full-backing-filename']);
  expect(ours.backingFormat, `${where}: backing-filename-format`).toBe(qemu['backing-filename-format']);
  expect(ours.encrypted, `${where}: encrypted`).toBe(qemu.encrypted ?? false);
  expect(ours.dirty, `${where}: dirty-flag`).toBe(qemu['dirty-flag'] ?? false);
  const spec = qemu['format-specific'];
  if (spec?.type === 'qcow2') {
    const d = spec.data;
    const q = ours.formatSpecific.data;
    expect(q.compat, `${where}: compat`).toBe(d.compat);
    expect(ours.dataFile, `${where}: data-file`).toBe(d['data-file']);
    expect(ours.dataFileRaw, `${where}: data-file-raw`).toBe(d['data-file-raw']);
    if (d.compat !== '0.10') {
      expect(q.lazyRefcounts, `${where}: lazy-refcounts`).toBe(d['lazy-refcounts']);
      expect(q.refcountBits, `${where}: refcount-bits`).toBe(d['refcount-bits']);
      expect(ours.corrupt, `${where}: corrupt`).toBe(d.corrupt);
      expect(ours.extendedL2, `${where}: extended-l2`).toBe(d['extended-l2']);
    }
    expect(ours.compressionType, `${where}: compression-type`).toBe(d['compression-type']);
    expect(q.encryptionFormat, `${where}: encrypt.format`).toBe((d.encrypt as { format?: string } | undefined)?.format);
  }
  if (spec?.type === 'vmdk') {
    expect(ours.formatSpecific.data.createType, `${where}: create-type`).toBe(spec.data['create-type']);
  }
  expect(ours.safety.safe, `${where}: safety (${ours.safety.reasons.join('; ')})`).toBe(c.safe);
}

describe('inspect agrees with qemu-img info', () => {
  it('covers at least 60 generated images', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.map((c, i) => [i, c.name, c] as const))('#%i %s', async (i, _name, c) => {
    const file = join(dir, `img${i}`);
    const args = c.args.map((a) =>
      a.replace('FILE', file).replace('BASEDIR', dir).replace('DATA', join(dir, 'data.raw')),
    );
    // Relative backing names resolve against the image's directory, as in nova's instance dirs.
    if (c.luks) await qemuImgRetrying(args[0] ?? '', ...SECRET, ...args.slice(1));
    else await qemuImg(...args);
    const [ours, qemu] = await Promise.all([inspect(file), qemuInfo(file)]);
    expectAgreement(file, ours, qemu, c);
  });
});
