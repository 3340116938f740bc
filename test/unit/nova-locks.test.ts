// The library's locks against nova's own: a python3 child runs
// nova.utils.synchronized(name, external=True) (Debian's python3-nova, with
// oslo.config's [oslo_concurrency] lock_path on the same folder) while the
// library waits for the same name, and the reverse. Local filesystem only:
// this machine's kernel has no NFS client (see README "Locks shared with nova").
import { mkdir, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BaseImageCache, Locks } from '../../src/cache/index.js';
import { DiskInfo } from '../../src/diskinfo/DiskInfo.js';
import { requireNova, startPython, type PythonChild } from './helpers/nova.js';
import { tempDir } from './helpers/system.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('locks shared with a real nova process', () => {
  let dir: string;
  let lockPath: string;
  let remove: () => Promise<void>;
  const children: PythonChild[] = [];
  beforeAll(() => requireNova(), 120_000);
  beforeEach(async () => {
    ({ dir, remove } = await tempDir('nova-locks'));
    lockPath = join(dir, 'locks');
  });
  afterEach(async () => {
    for (const child of children.splice(0)) child.kill();
    await remove();
  });

  function nova(name: string, mode: 'hold' | 'take'): PythonChild {
    const child = startPython('nova_lock.py', [lockPath, name, mode]);
    children.push(child);
    return child;
  }

  it('waits while nova holds the lock, times out with LOCK_TIMEOUT, and proceeds once nova lets go', async () => {
    const holder = nova('9e881789030568a317fad9daae82c5b1c65e0d4a', 'hold');
    await holder.line('locked');
    const locks = new Locks({ lockPath, timeoutMs: 500 });
    const file = locks.lockFile('9e881789030568a317fad9daae82c5b1c65e0d4a');
    expect((await stat(file)).isFile()).toBe(true); // the file nova made is the one we lock
    for (const shared of [false, true]) {
      await expect(locks.synchronized('9e881789030568a317fad9daae82c5b1c65e0d4a', async () => 'ran', { shared })).rejects.toMatchObject({
        code: 'LOCK_TIMEOUT',
        path: file,
      });
    }
    const patient = new Locks({ lockPath, timeoutMs: 60_000 });
    let releasedAt = 0;
    let ranAt = 0;
    const waiting = patient.synchronized('9e881789030568a317fad9daae82c5b1c65e0d4a', async () => {
      ranAt = Date.now();
    });
    await sleep(500);
    expect(ranAt).toBe(0);
    releasedAt = Date.now();
    holder.send('release');
    await waiting;
    expect(ranAt).toBeGreaterThanOrEqual(releasedAt); // only once nova let go
    expect(ranAt - releasedAt).toBeLessThan(5000);
    expect((await holder.done).code).toBe(0);
  });

  for (const shared of [false, true]) {
    it(`makes nova wait while the library holds the lock ${shared ? 'shared' : 'exclusive'}`, async () => {
      const locks = new Locks({ lockPath });
      let taker!: PythonChild;
      let novaGotItInside = true;
      await locks.synchronized(
        'instance-disk-base',
        async () => {
          taker = nova('instance-disk-base', 'take');
          await taker.line('waiting');
          await sleep(1500); // nova polls every 10-100 ms
          novaGotItInside = taker.said('locked');
        },
        { shared },
      );
      expect(novaGotItInside).toBe(false);
      await taker.line('locked');
      expect((await taker.done).code).toBe(0);
    });
  }

  it("nova writes disk.info under an in-process lock only (external=False): no lock file the library's could collide with", async () => {
    // imagebackend.Flat on an existing raw file runs resolve_driver_format,
    // which writes disk.info under utils.synchronized(disk_info_path,
    // external=False, lock_path=...); the child watches lockutils' calls.
    const instance = join(dir, 'uuid');
    const disk = join(instance, 'disk');
    await mkdir(instance);
    await writeFile(disk, '');
    await truncate(disk, 1 << 20);
    const child = startPython('nova_disk_info_lock.py', [dir, disk]);
    children.push(child);
    const { code, stdout, stderr } = await child.done;
    expect(code, stderr).toBe(0);
    const seen = JSON.parse(stdout.trim().split('\n').pop()!) as { disk_info: string; internal: string[]; external: string[]; lock_files: string[] };
    expect(JSON.parse(seen.disk_info)).toEqual({ [disk]: 'raw' });
    expect(seen.internal).toEqual([join(instance, 'disk.info')]);
    expect(seen.external).toEqual([]);
    expect(seen.lock_files).toEqual([]);
    // The library reads nova's entry and adds its own beside it.
    const info = DiskInfo.forInstance(instance);
    expect(await info.readFormat(disk)).toBe('raw');
    await info.recordFormat(join(instance, 'disk.local'), 'qcow2');
    expect(await info.read()).toEqual({ [disk]: 'raw', [join(instance, 'disk.local')]: 'qcow2' });
  });

  it("keeps nova's imagebackend lock and the library's base cache from fetching one base at the same time", async () => {
    // nova fetches a base under the base file's name (imagebackend.cache);
    // the library's cache uses the same name in <instancesPath>/locks.
    const name = '2d6f8c7e0d1c6b6e3f2c5b0a9d8e7f6a5b4c3d2e';
    const holder = nova(name, 'hold');
    await holder.line('locked');
    const cache = new BaseImageCache({ instancesPath: dir });
    let fetchedAt = 0;
    const fetching = cache.fetchOnce(name, async ({ target }) => {
      fetchedAt = Date.now();
      await writeFile(target, 'base');
    });
    await sleep(700);
    expect(fetchedAt).toBe(0);
    const releasedAt = Date.now();
    holder.send('release');
    await fetching;
    expect(fetchedAt).toBeGreaterThanOrEqual(releasedAt);
  });
});
