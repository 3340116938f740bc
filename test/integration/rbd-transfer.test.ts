// Import and export against the real cluster: bytes, holes, progress, abort, cleanup.
import { existsSync } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AbortError, RbdExistsError } from '../../src/errors.js';
import type { RbdCluster } from '../../src/rbd/RbdCluster.js';
import type { RbdPool } from '../../src/rbd/RbdPool.js';
import { cephEnv, connectClient, uniqueName } from '../helpers/ceph.js';
import { allocated, denseFile, sha256, sparseFile, tempDir } from '../helpers/files.js';

const MiB = 1 << 20;

describe('RBD import and export', () => {
  const env = cephEnv();
  let cluster: RbdCluster;
  let vms: RbdPool;
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let dense: string;

  beforeAll(async () => {
    tmp = await tempDir();
    cluster = await connectClient(env);
    vms = cluster.pool(env.pools.vms);
    dense = join(tmp.dir, 'dense.raw');
    await denseFile(dense, 256 * MiB);
  });

  afterAll(async () => {
    await cluster?.close();
    await tmp?.cleanup();
  });

  it('round-trips a sparse file, writing only its data and keeping holes on export', async () => {
    const src = join(tmp.dir, 'sparse.raw');
    // Unaligned size, data at the start, in the middle (crossing an object) and at the tail.
    const size = 64 * MiB + 4096;
    await sparseFile(src, size, [
      [0, 3 * MiB],
      [30 * MiB - 12345, MiB],
      [size - 4096, 4096],
    ]);
    const name = uniqueName('rt');
    const progress: number[] = [];
    const result = await vms.image(name).import(src, { onProgress: (done) => progress.push(done) });
    expect(result.size).toBe(BigInt(size));
    // Only the data went over the wire: each extent rounded out to 64 KiB granules at most.
    const data = 3 * MiB + MiB + 4096;
    expect(result.bytesWritten).toBeGreaterThanOrEqual(data);
    expect(result.bytesWritten).toBeLessThanOrEqual(data + 3 * 2 * 64 * 1024);
    expect(progress.at(-1)).toBe(size);
    expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    expect(await vms.image(name).size()).toBe(BigInt(size));

    const out = join(tmp.dir, 'sparse.out');
    const exported = await vms.image(name).export(out);
    expect(exported.size).toBe(BigInt(size));
    expect(await sha256(out)).toBe(await sha256(src));
    expect(await allocated(out)).toBeLessThan(16 * MiB);
    await vms.image(name).remove();
  });

  it('skips zero runs inside allocated data, writing only the non-zero granules', async () => {
    // Written zeros (allocated, not holes) around two small pieces of data.
    const src = join(tmp.dir, 'zeros.raw');
    const buf = Buffer.alloc(32 * MiB);
    buf.fill(7, 5 * MiB, 5 * MiB + 100);
    buf.fill(9, 20 * MiB + 70_000, 20 * MiB + 200_000);
    await writeFile(src, buf);
    const name = uniqueName('zeroruns');
    const result = await vms.image(name).import(src);
    expect(result.bytesWritten).toBeLessThanOrEqual(4 * 64 * 1024);
    const out = join(tmp.dir, 'zeros.out');
    await vms.image(name).export(out);
    expect(await sha256(out)).toBe(await sha256(src));
    await vms.image(name).remove();
  });

  it('exports a snapshot, refuses to overwrite unless asked', async () => {
    const src = join(tmp.dir, 'snapsrc.raw');
    await sparseFile(src, 8 * MiB, [[MiB, MiB]]);
    const name = uniqueName('snapexp');
    const image = vms.image(name);
    await image.import(src);
    await image.createSnapshot('s');
    await image.resize(2 * MiB, { allowShrink: true });
    const out = join(tmp.dir, 'snap.out');
    await image.export(out, { snapshot: 's' });
    expect(await sha256(out)).toBe(await sha256(src));
    await expect(image.export(out)).rejects.toMatchObject({ errnoName: 'EEXIST', syscall: 'open' });
    await image.export(out, { overwrite: true });
    await expect(stat(out)).resolves.toMatchObject({ size: 2 * MiB });
    await image.removeSnapshot('s');
    await image.remove();
  });

  it('does not touch an existing image when the import target name is taken', async () => {
    const name = uniqueName('taken');
    await vms.image(name).create(MiB);
    await expect(vms.image(name).import(dense)).rejects.toBeInstanceOf(RbdExistsError);
    expect(await vms.image(name).size()).toBe(BigInt(MiB));
    await vms.image(name).remove();
  });

  it('removes the partial image when an import is aborted half-way', async () => {
    const name = uniqueName('abort');
    const controller = new AbortController();
    let seen = 0;
    const err = await vms
      .image(name)
      .import(dense, {
        signal: controller.signal,
        onProgress: (done) => {
          seen = done;
          if (done >= 64 * MiB) controller.abort();
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(err).toMatchObject({ code: 'ABORTED', errnoName: 'ECANCELED' });
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(256 * MiB);
    expect(await vms.image(name).exists()).toBe(false);
  });

  it('rejects at once when the signal is already aborted, creating nothing', async () => {
    const name = uniqueName('preabort');
    await expect(vms.image(name).import(dense, { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(AbortError);
    expect(await vms.image(name).exists()).toBe(false);
  });

  it('removes the partial file when an export fails or is aborted', async () => {
    const name = uniqueName('expabort');
    await vms.image(name).import(dense);
    const out = join(tmp.dir, 'aborted.out');
    const controller = new AbortController();
    const err = await vms
      .image(name)
      .export(out, { signal: controller.signal, onProgress: (d) => d >= 32 * MiB && controller.abort() })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect(existsSync(out)).toBe(false);
    await expect(vms.image('no-such-image').export(out)).rejects.toMatchObject({ code: 'RBD_NOT_FOUND' });
    expect(existsSync(out)).toBe(false);
    await vms.image(name).remove();
  });

  it('keeps the event loop free: a timer ticks on while 256 MiB are imported', async () => {
    const name = uniqueName('ticks');
    let ticks = 0;
    let last = performance.now();
    let worstGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
      ticks++;
    }, 5);
    const started = performance.now();
    try {
      await vms.image(name).import(dense);
    } finally {
      clearInterval(timer);
    }
    const elapsed = performance.now() - started;
    // A blocked loop would give ~0 ticks and one gap as long as the import.
    expect(ticks).toBeGreaterThan(elapsed / 5 / 4);
    expect(worstGap).toBeLessThan(Math.max(100, elapsed / 4));
    const out = join(tmp.dir, 'ticks.out');
    await vms.image(name).export(out);
    expect(await sha256(out)).toBe(await sha256(dense));
    await vms.image(name).remove();
  });
});
