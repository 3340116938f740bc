// RbdPool.importStream / RbdDriver.importStream (the contract the Glance
// pipeline streams downloads through) and RbdDriver.authRequired, against the
// real cluster: bytes read back through librbd, zero runs not written,
// nothing left on failure or abort.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AbortError, ImageIoError, RbdExistsError } from '../../src/errors.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import type { RbdDriver } from '../../src/rbd/RbdDriver.js';
import type { RbdPool } from '../../src/rbd/RbdPool.js';
import { cephEnv, clientDriver, uniqueName } from '../helpers/ceph.js';
import { tempDir } from '../helpers/files.js';

const MiB = 1 << 20;

// Yields `data` in pieces of irregular sizes (as a network download does).
async function* pieces(data: Buffer, seed = 7): AsyncGenerator<Uint8Array> {
  let at = 0;
  let x = seed;
  while (at < data.length) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const n = Math.min(data.length - at, 1 + (x % (300 * 1024)));
    yield new Uint8Array(data.buffer, data.byteOffset + at, n);
    at += n;
    if (x % 5 === 0) await new Promise((r) => setImmediate(r));
  }
}

// A disk-like payload: random data with long zero runs between.
function diskLike(size: number): Buffer {
  const data = Buffer.alloc(size);
  for (const [offset, length] of [
    [0, MiB],
    [5 * MiB + 4321, 200_000],
    [9 * MiB, 3 * MiB - 1],
    [size - 70_000, 70_000],
  ] as const) {
    randomBytes(length).copy(data, offset);
  }
  return data;
}

describe('RBD stream import', () => {
  const env = cephEnv();
  let driver: RbdDriver;
  let cluster: RbdCluster;
  let vms: RbdPool;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  const rbdCli = (...args: string[]) =>
    execFileSync('rbd', ['-c', env.conf, '--id', env.admin.user, '--keyring', env.admin.keyring, ...args], {
      encoding: 'utf8',
    });

  beforeAll(async () => {
    tmp = await tempDir();
    driver = clientDriver(env);
    cluster = await driver.cluster();
    vms = cluster.pool(env.pools.vms);
  });
  afterAll(async () => {
    await driver?.close();
    await tmp?.cleanup();
  });

  const leftovers = async (name: string) => (await vms.list()).filter((n) => n.startsWith(name));
  const readBack = async (name: string) => {
    const out = join(tmp.dir, `${name}.out`);
    await vms.image(name).export(out);
    return readFile(out);
  };

  it('writes the stream through librbd: the bytes read back equal, zero runs are not written', async () => {
    // Object 3 ([12 MiB, 16 MiB)) holds zeros only.
    const size = 20 * MiB + 12345;
    const data = diskLike(size);
    const name = uniqueName('stream');
    const progress: number[] = [];
    const result = await vms.importStream(name, pieces(data), {
      size,
      concurrency: 4,
      onProgress: (done) => progress.push(done),
    });
    expect(result.size).toBe(size);
    expect(result.bytesWritten + result.bytesSkipped).toBe(size);
    // Data is ~4.3 MiB; each run rounds out to 64 KiB granules at most.
    expect(result.bytesWritten).toBeLessThan(5 * MiB);
    expect(result.bytesSkipped).toBeGreaterThan(15 * MiB);
    expect(progress.at(-1)).toBe(size);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(await vms.image(name).size()).toBe(BigInt(size));
    expect((await readBack(name)).equals(data)).toBe(true);
    // What the cluster holds (rbd diff: allocated extents, at object granularity
    // on this memstore OSD): nothing in the all-zero object 3.
    const extents = JSON.parse(rbdCli('diff', '--format', 'json', `${env.pools.vms}/${name}`)) as Array<{
      offset: number;
      length: number;
    }>;
    expect(extents.length).toBeGreaterThan(0);
    for (const e of extents) expect(e.offset + e.length <= 12 * MiB || e.offset >= 16 * MiB).toBe(true);
    const allocated = extents.reduce((sum, e) => sum + e.length, 0);
    expect(allocated).toBeLessThan(size - 4 * MiB + 1);
    expect(await leftovers(name)).toEqual([name]);
    await vms.image(name).remove();
  });

  it('RbdDriver.importStream writes into the driver pool; an all-zero stream writes nothing', async () => {
    const name = uniqueName('zeros');
    const size = 8 * MiB;
    const result = await driver.importStream(pieces(Buffer.alloc(size)), name, { size });
    expect(result).toEqual({ size, bytesWritten: 0, bytesSkipped: size });
    expect(await driver.size(name)).toBe(BigInt(size));
    expect((await readBack(name)).equals(Buffer.alloc(size))).toBe(true);
    await driver.destroyVolume(name);
  });

  it('a source that throws half-way: the error is wrapped, the image is removed', async () => {
    const name = uniqueName('throws');
    const boom = new Error('connection reset by image service');
    async function* failing() {
      yield randomBytes(6 * MiB);
      throw boom;
    }
    const err = await vms.importStream(name, failing(), { size: 32 * MiB }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageIoError);
    expect(err).toMatchObject({ code: 'IO_ERROR', cause: boom });
    expect(await vms.image(name).exists()).toBe(false);
    expect(await leftovers(name)).toEqual([]);
  });

  it('a source longer or shorter than size fails and leaves nothing', async () => {
    for (const [label, length] of [
      ['short', 3 * MiB],
      ['long', 5 * MiB],
    ] as const) {
      const name = uniqueName(label);
      const err = await vms.importStream(name, pieces(randomBytes(length)), { size: 4 * MiB }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'IO_ERROR' });
      expect(await leftovers(name)).toEqual([]);
    }
  });

  it('abort works while writing and while the source stalls; nothing is left', async () => {
    const name = uniqueName('abort');
    const controller = new AbortController();
    let yielded = 0;
    async function* stalls() {
      for (let i = 0; i < 3; i++) {
        yielded++;
        yield randomBytes(4 * MiB);
      }
      await new Promise(() => {}); // a download that stops answering
    }
    setTimeout(() => controller.abort(), 500);
    const started = performance.now();
    const err = await vms
      .importStream(name, stalls(), { size: 64 * MiB, signal: controller.signal })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(yielded).toBe(3);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(await leftovers(name)).toEqual([]);
    // Already aborted: rejects at once, creates nothing.
    await expect(
      vms.importStream(name, pieces(randomBytes(MiB)), { size: MiB, signal: AbortSignal.abort() }),
    ).rejects.toBeInstanceOf(AbortError);
    expect(await leftovers(name)).toEqual([]);
  });

  it('refuses a taken name before writing, leaving the existing image as it was', async () => {
    const name = uniqueName('taken');
    await vms.image(name).create(MiB);
    await expect(vms.importStream(name, pieces(randomBytes(2 * MiB)), { size: 2 * MiB })).rejects.toBeInstanceOf(
      RbdExistsError,
    );
    expect(await vms.image(name).size()).toBe(BigInt(MiB));
    expect(await leftovers(name)).toEqual([name]);
    await vms.image(name).remove();
  });

  it('refuses bad options with INVALID_ARGUMENT before creating anything', async () => {
    const name = uniqueName('badopts');
    const src = () => pieces(randomBytes(MiB));
    await expect(vms.importStream(name, src(), { size: -1 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(vms.importStream(name, src(), { size: MiB, concurrency: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(vms.importStream(name, 'bytes' as never, { size: MiB })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    async function* strings() {
      yield 'not bytes';
    }
    await expect(vms.importStream(name, strings() as never, { size: MiB })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
    await expect(vms.importStream('a/b', src(), { size: MiB })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await leftovers(name)).toEqual([]);
  });

  it('authRequired: the test cluster runs cephx, as librados reports it', async () => {
    expect(await driver.authRequired()).toBe(true);
    const value = cluster.configValue('auth_client_required');
    expect(value).toMatch(/cephx/);
    // The same value the ceph tools read from this ceph.conf.
    const conf = execFileSync('ceph-conf', ['-c', env.conf, '--name', `client.${env.client.user}`, 'auth_client_required'], {
      encoding: 'utf8',
    }).trim();
    expect(value.replace(/\s/g, '')).toBe(conf.replace(/\s/g, ''));
    expect(() => cluster.configValue('no_such_option')).toThrow(expect.objectContaining({ code: 'RBD_NOT_FOUND' }));
  });
});
