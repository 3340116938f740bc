// The backends across processes: compute agents sharing one instances folder.
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { Backend } from '../../src/backends/Backend.js';
import { Locks } from '../../src/cache/Locks.js';
import { cacheFileName } from '../../src/cache/cacheFileName.js';
import { inspect } from '../../src/image/inspect.js';
import { compileLibrary, startChild } from './helpers/compiled.js';
import { qemuImg } from './image/qemu.js';
import { sameBytes, tempDir } from './helpers/system.js';

const MiB = 2 ** 20;
const PROCESSES = 8;
const DISKS = 20;

let dist: string;
let cleanupDist: () => Promise<void>;
beforeAll(async () => ({ dist, cleanup: cleanupDist } = await compileLibrary()), 120_000);
afterAll(() => cleanupDist?.());

describe('image backends across processes', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('backend-procs')));
  afterEach(() => remove());

  it(`${PROCESSES} processes × ${DISKS} disks on one base: fetched once, every disk valid, every disk.info intact`, async () => {
    const counter = join(dir, 'fetches');
    const children = Array.from({ length: PROCESSES }, (_, p) =>
      startChild(dist, 'backend-provision.mjs', [dir, String(p), String(DISKS), counter, String(8 * MiB)], 120_000),
    );
    const results = await Promise.all(children.map((c) => c.done));
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('done\n');
    }
    expect((await readFile(counter, 'utf8')).trim().split('\n')).toHaveLength(1);
    const base = join(dir, '_base', cacheFileName('shared-image'));
    expect(await readdir(join(dir, '_base'))).toEqual([cacheFileName('shared-image')]);
    // Lock files stay, as nova's do (fcntl locks on nova-<name>): the base's,
    // and one per instance folder's disk.info.
    const locks = (await readdir(join(dir, 'locks'))).sort();
    expect(locks.filter((n) => !n.startsWith('nova-disk.info-'))).toEqual([`nova-${cacheFileName('shared-image')}`]);
    expect(locks.filter((n) => n.startsWith('nova-disk.info-'))).toHaveLength(DISKS);

    for (let i = 0; i < DISKS; i++) {
      const folder = join(dir, `inst-${i}`);
      const names = Array.from({ length: PROCESSES }, (_, p) => `disk-${p}`);
      // Every writer's entry is there, and the file is one valid JSON object.
      const recorded = JSON.parse(await readFile(join(folder, 'disk.info'), 'utf8')) as Record<string, string>;
      expect(recorded).toEqual(Object.fromEntries(names.map((n) => [join(folder, n), 'qcow2'])));
      expect((await readdir(folder)).sort()).toEqual([...names, 'disk.info'].sort());
      for (const name of names) {
        const info = await inspect(join(folder, name));
        expect(info).toMatchObject({ format: 'qcow2', virtualSize: 16 * MiB, backingFile: base, backingFormat: 'raw', corrupt: false });
      }
    }
    // qemu-img's own consistency check on a sample from every process.
    for (let p = 0; p < PROCESSES; p++) await qemuImg('check', '-f', 'qcow2', join(dir, `inst-${p % DISKS}`, `disk-${p}`));
  });

  it('recovers from a process killed mid-fetch: no partial base, the lock free, the disk made', async () => {
    const counter = join(dir, 'fetches');
    const child = startChild(dist, 'backend-provision.mjs', [dir, '0', '1', counter, String(8 * MiB), 'hang']);
    const line = await child.line((l) => l.startsWith('fetching '));
    child.kill('SIGKILL');
    expect((await child.done).signal).toBe('SIGKILL');
    const partial = line.slice('fetching '.length);
    expect(await readFile(partial, 'utf8')).toBe('partial');
    // No base and no disk: only the partial file (the kernel released the lock).
    await expect(stat(join(dir, '_base', cacheFileName('shared-image')))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(dir, 'inst-0', 'disk-0'))).rejects.toMatchObject({ code: 'ENOENT' });

    const locks = new Locks({ lockPath: join(dir, 'locks'), staleMs: 2000, updateMs: 1000, timeoutMs: 30_000 });
    const backend = new Backend({ instancesPath: dir, imagesType: 'qcow2', locks });
    const disk = backend.image({ uuid: 'inst-0' }, 'disk-0');
    await disk.cache({
      filename: cacheFileName('shared-image'),
      imageId: 'shared-image',
      fetch: async ({ target }) => {
        await qemuImg('create', '-f', 'raw', target, String(8 * MiB));
      },
    });
    expect(await readdir(join(dir, '_base'))).toEqual([cacheFileName('shared-image')]);
    // Lock files stay, as nova's do (fcntl locks on nova-<name>): the base's
    // and the one instance folder's disk.info.
    const lockFiles = (await readdir(join(dir, 'locks'))).sort();
    expect(lockFiles.filter((n) => !n.startsWith('nova-disk.info-'))).toEqual([`nova-${cacheFileName('shared-image')}`]);
    expect(lockFiles.filter((n) => n.startsWith('nova-disk.info-'))).toHaveLength(1);
    expect((await inspect(disk.path)).backingFile).toBe(join(dir, '_base', cacheFileName('shared-image')));
    await qemuImg('check', '-f', 'qcow2', disk.path);
  });

  it('a raw disk whose copy is killed (SIGKILL) mid-way is not accepted later: the next cache() makes it whole', async () => {
    // A dense base (no holes to skip), large enough that the copy is still running when the child is killed.
    const size = 256 * MiB;
    const source = join(dir, 'dense.raw');
    const fh = await open(source, 'w');
    const chunk = Buffer.alloc(MiB);
    for (let i = 0; i < size / MiB; i++) {
      chunk.fill(i % 251 + 1);
      chunk.writeUInt32LE(i, 0);
      await fh.write(chunk, 0, MiB, i * MiB);
    }
    await fh.close();
    const filename = cacheFileName('flat-image');
    const backend = new Backend({ instancesPath: dir, imagesType: 'raw' });
    // The base goes into the cache first (made by another instance's disk).
    await backend.image({ uuid: 'first' }, 'disk').cache({
      filename,
      imageId: 'flat-image',
      fetch: async ({ target }) => {
        await qemuImg('convert', '-f', 'raw', '-O', 'raw', '-S', '0', source, target);
      },
    });
    const base = join(dir, '_base', filename);

    const child = startChild(dist, 'flat-copy.mjs', [dir, 'victim', filename], 120_000);
    const line = await child.line((l) => l.startsWith('progress '));
    child.kill('SIGKILL');
    expect((await child.done).signal).toBe('SIGKILL');
    const [, done, total, partial] = line.split(' ');
    expect(Number(done)).toBeLessThan(Number(total));
    // Killed mid-copy: the disk's name was never given to the partial copy.
    const disk = join(dir, 'victim', 'disk');
    await expect(stat(disk)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readdir(join(dir, 'victim'))).map((n) => join(dir, 'victim', n))).toEqual([partial]);

    const report = await backend.image({ uuid: 'victim' }, 'disk').cache({
      filename,
      imageId: 'flat-image',
      fetch: async () => {
        throw new Error('the base is cached: no fetch');
      },
    });
    expect(report).toMatchObject({ created: true, fetched: false, format: 'raw', virtualSize: size });
    expect(sameBytes(base, disk)).toBe(true);
    // The dead writer's temporary file was swept.
    expect((await readdir(join(dir, 'victim'))).sort()).toEqual(['disk', 'disk.info']);
  }, 180_000);
});
