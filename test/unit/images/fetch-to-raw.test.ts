// fetchToRaw with real qemu-img and the native inspector, fed by an in-memory
// image service (the Glance integration tests run the same paths against a
// real Glance): each refusal has its code and leaves nothing in the folder.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ImageBackendError } from '../../../src/errors.js';
import { DiskOpsLimiter } from '../../../src/images/DiskOpsLimiter.js';
import { fetchToRaw, type FetchToRawOptions } from '../../../src/images/fetchToRaw.js';
import type { ImageRecord, ImageService } from '../../../src/images/ImageService.js';

const run = promisify(execFile);
let dir: string;
let out: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'fetch-to-raw-'));
  out = join(dir, 'out');
  await run('mkdir', [out]);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** An image service holding one image: `bytes` with `record`'s fields (hashes computed unless given). */
function serviceOf(bytes: Buffer, record: Partial<ImageRecord>, calls = { get: 0, download: 0 }): ImageService & { calls: typeof calls } {
  const full: ImageRecord = {
    id: 'img',
    status: 'active',
    size: bytes.length,
    os_hash_algo: 'sha512',
    os_hash_value: createHash('sha512').update(bytes).digest('hex'),
    checksum: createHash('md5').update(bytes).digest('hex'),
    ...record,
  };
  return {
    calls,
    async get() {
      calls.get++;
      return full;
    },
    async download() {
      calls.download++;
      return (async function* () {
        for (let i = 0; i < bytes.length; i += 100_000) yield bytes.subarray(i, i + 100_000);
      })();
    },
  };
}

async function qemuImage(name: string, args: string[]): Promise<Buffer> {
  const path = join(dir, name);
  await run('qemu-img', ['create', '-q', ...args.map((a) => a.replace('@', `${dir}/`)), path]);
  return readFile(path);
}

async function fetch(service: ImageService, extra: Partial<FetchToRawOptions> = {}) {
  return fetchToRaw({ imageService: service, context: {}, imageId: 'img', target: join(out, 'base'), ...extra });
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageBackendError);
  expect(await readdir(out)).toEqual([]); // nothing left behind
  return (error as ImageBackendError).code;
}

describe('fetchToRaw', () => {
  it('writes a raw image as it is, sparse, with its hash checked', async () => {
    const bytes = Buffer.alloc(4 << 20);
    bytes.fill(7, 1 << 20, (1 << 20) + 4096);
    const result = await fetch(serviceOf(bytes, { disk_format: 'raw' }), { maxSize: 4 << 20 });
    expect(result).toMatchObject({ format: 'raw', sourceFormat: 'raw', virtualSize: 4 << 20, downloadedBytes: 4 << 20, converted: false });
    expect(result.verifiedHash?.algorithm).toBe('sha512');
    const target = join(out, 'base');
    expect((await readFile(target)).equals(bytes)).toBe(true);
    expect((await stat(target)).blocks * 512).toBeLessThan(1 << 20); // the zeros are holes
    expect(await readdir(out)).toEqual(['base']);
  });

  it('converts a qcow2 image to raw with the right bytes, the download and convert queued behind the disk-ops limit', async () => {
    const raw = Buffer.alloc(2 << 20);
    raw.write('hello qcow2', 65536);
    await writeFile(join(dir, 'src.raw'), raw);
    await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', join(dir, 'src.raw'), join(dir, 'src.qcow2')]);
    const limiter = new DiskOpsLimiter(1);
    const phases: string[] = [];
    const result = await fetch(serviceOf(await readFile(join(dir, 'src.qcow2')), { disk_format: 'qcow2' }), {
      diskOps: limiter,
      onProgress: (p) => {
        if (!phases.includes(p.phase)) phases.push(p.phase);
      },
    });
    expect(result).toMatchObject({ format: 'raw', sourceFormat: 'qcow2', virtualSize: 2 << 20, converted: true });
    expect((await readFile(join(out, 'base'))).equals(raw)).toBe(true);
    expect(phases[0]).toBe('download');
    expect(limiter.running).toBe(0);
    // with forceRawImages false the qcow2 stays qcow2
    await rm(join(out, 'base'));
    const kept = await fetch(serviceOf(await readFile(join(dir, 'src.qcow2')), { disk_format: 'qcow2' }), { forceRawImages: false });
    expect(kept).toMatchObject({ format: 'qcow2', converted: false });
  });

  it('uses the record it is given instead of asking again', async () => {
    const bytes = Buffer.alloc(65536, 1);
    const service = serviceOf(bytes, { disk_format: 'raw' });
    const image = await service.get({}, 'img');
    await fetch(service, { image });
    expect(service.calls).toEqual({ get: 1, download: 1 });
  });

  it('refuses an image that is not active, or too large, before downloading', async () => {
    const service = serviceOf(Buffer.alloc(1 << 20), { disk_format: 'raw', status: 'queued' });
    expect(await refusal(fetch(service))).toBe('IMAGE_NOT_ACTIVE');
    const big = serviceOf(Buffer.alloc(1 << 20), { disk_format: 'qcow2', virtual_size: 10 * 2 ** 30 });
    expect(await refusal(fetch(big, { maxSize: 1 << 30 }))).toBe('IMAGE_TOO_LARGE');
    expect(service.calls.download + big.calls.download).toBe(0);
  });

  it('refuses a qcow2 whose virtual size exceeds maxSize when the record did not say', async () => {
    const service = serviceOf(await qemuImage('big.qcow2', ['-f', 'qcow2', '-o', 'size=8G']), { disk_format: 'qcow2' });
    expect(await refusal(fetch(service, { maxSize: 1 << 30 }))).toBe('IMAGE_TOO_LARGE');
  });

  it('refuses altered bytes (os_hash_value, then md5 checksum) and a wrong byte count', async () => {
    const bytes = Buffer.alloc(1 << 20, 3);
    const altered = Buffer.from(bytes);
    altered[12345] = 4;
    const good = serviceOf(bytes, { disk_format: 'raw' });
    const record = await good.get({}, 'img');
    expect(await refusal(fetch(serviceOf(altered, { disk_format: 'raw', os_hash_value: record.os_hash_value, checksum: record.checksum })))).toBe('IMAGE_CHECKSUM_MISMATCH');
    expect(await refusal(fetch(serviceOf(altered, { disk_format: 'raw', os_hash_algo: null, os_hash_value: null, checksum: record.checksum })))).toBe('IMAGE_CHECKSUM_MISMATCH');
    expect(await refusal(fetch(serviceOf(bytes, { disk_format: 'raw', size: (1 << 20) + 1 })))).toBe('IMAGE_SIZE_MISMATCH');
    expect(await refusal(fetch(serviceOf(bytes, { disk_format: 'raw', size: (1 << 20) - 1 })))).toBe('IMAGE_SIZE_MISMATCH');
    // neither hash: accepted (images registered by location have none)
    const none = await fetch(serviceOf(bytes, { disk_format: 'raw', os_hash_algo: null, os_hash_value: null, checksum: null }));
    expect(none.verifiedHash).toBeUndefined();
  });

  it('refuses a qcow2 declared raw, and raw bytes declared qcow2 or iso', async () => {
    const qcow2 = await qemuImage('a.qcow2', ['-f', 'qcow2', '-o', 'size=1M']);
    expect(await refusal(fetch(serviceOf(qcow2, { disk_format: 'raw' })))).toBe('IMAGE_FORMAT_MISMATCH');
    expect(await refusal(fetch(serviceOf(Buffer.alloc(65536), { disk_format: 'qcow2' })))).toBe('IMAGE_FORMAT_MISMATCH');
    expect(await refusal(fetch(serviceOf(Buffer.alloc(65536), { disk_format: 'iso' })))).toBe('IMAGE_FORMAT_MISMATCH');
    expect(await refusal(fetch(serviceOf(Buffer.alloc(65536), { disk_format: 'ploop' })))).toBe('IMAGE_FORMAT_MISMATCH');
  });

  it('accepts raw bytes with an MBR declared raw', async () => {
    const bytes = Buffer.alloc(1 << 20);
    bytes[510] = 0x55;
    bytes[511] = 0xaa;
    bytes.writeUInt8(0x83, 446 + 4); // a Linux partition entry
    bytes.writeUInt32LE(2048, 446 + 8);
    bytes.writeUInt32LE(10, 446 + 12);
    const result = await fetch(serviceOf(bytes, { disk_format: 'raw' }));
    expect(result.format).toBe('raw');
  });

  it('refuses a qcow2 with a backing file or a data file, and a VMDK with a flat extent on a host file', async () => {
    await run('qemu-img', ['create', '-q', '-f', 'raw', join(dir, 'host-file'), '1M']);
    const backed = await qemuImage('b.qcow2', ['-f', 'qcow2', '-b', join(dir, 'host-file'), '-F', 'raw']);
    expect(await refusal(fetch(serviceOf(backed, { disk_format: 'qcow2' })))).toBe('IMAGE_UNSAFE');
    const data = await qemuImage('d.qcow2', ['-f', 'qcow2', '-o', `data_file=${join(dir, 'data.bin')}`, '-o', 'size=1M']);
    expect(await refusal(fetch(serviceOf(data, { disk_format: 'qcow2' })))).toBe('IMAGE_UNSAFE');
    const flat = await qemuImage('f.vmdk', ['-f', 'vmdk', '-o', 'subformat=monolithicFlat', '-o', 'size=1M']);
    const error = await fetch(serviceOf(flat, { disk_format: 'vmdk' })).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'IMAGE_UNSAFE' });
    expect(await readdir(out)).toEqual([]);
  });

  it('takes a streamOptimized VMDK (allowed by default) unless the allow-list leaves it out', async () => {
    const vmdk = await qemuImage('s.vmdk', ['-f', 'vmdk', '-o', 'subformat=streamOptimized', '-o', 'size=1M']);
    expect(await refusal(fetch(serviceOf(vmdk, { disk_format: 'vmdk' }), { vmdkAllowedTypes: ['monolithicSparse'] }))).toBe('IMAGE_UNSAFE');
    const result = await fetch(serviceOf(vmdk, { disk_format: 'vmdk' }));
    expect(result).toMatchObject({ sourceFormat: 'vmdk', format: 'raw', virtualSize: 1 << 20 });
  });

  it('removes the partial file when aborted mid-download', async () => {
    const controller = new AbortController();
    const service: ImageService = {
      async get() {
        return { id: 'img', status: 'active', disk_format: 'raw' };
      },
      async download() {
        return (async function* () {
          yield new Uint8Array(1 << 20).fill(1);
          controller.abort();
          yield new Uint8Array(1 << 20).fill(1);
        })();
      },
    };
    expect(await refusal(fetch(service, { signal: controller.signal }))).toBe('ABORTED');
  });
});
