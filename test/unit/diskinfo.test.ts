import { execFileSync } from 'node:child_process';
import { mkdir, open, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DiskInfo, type DiskFormat } from '../../src/diskinfo/index.js';
import { DiskInfoIoError, InvalidDiskInfoError } from '../../src/errors.js';
import { compileLibrary, startChild } from './helpers/compiled.js';
import { tempDir } from './helpers/system.js';

/** nova's old, unsafe way to learn a format: let qemu-img probe the header. */
const probe = async (path: string): Promise<DiskFormat> =>
  JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', path], { encoding: 'utf8' })).format as DiskFormat;

describe('DiskInfo', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let info: DiskInfo;
  const disk = '/var/lib/nova/instances/uuid/disk';
  beforeEach(async () => {
    ({ dir, remove } = await tempDir('diskinfo'));
    info = DiskInfo.forInstance(join(dir, 'instance'));
  });
  afterEach(() => remove());

  it('reads nothing from a missing or empty file', async () => {
    expect(info.path).toBe(join(dir, 'instance', 'disk.info'));
    expect(await info.read()).toEqual({});
    expect(await info.readFormat(disk)).toBeUndefined();
    await mkdir(join(dir, 'instance'));
    await writeFile(info.path, '\n');
    expect(await info.read()).toEqual({});
  });

  it('records a format as one JSON line, creating the folder, mode 0644, no leftovers', async () => {
    expect(await info.recordFormat(disk, 'qcow2')).toBe('qcow2');
    expect(await readFile(info.path, 'utf8')).toBe(`{"${disk}":"qcow2"}\n`);
    expect((await stat(info.path)).mode & 0o777).toBe(0o644);
    expect(await info.readFormat(disk)).toBe('qcow2');
    await info.recordFormat(`${disk}.swap`, 'raw');
    expect(await info.read()).toEqual({ [disk]: 'qcow2', [`${disk}.swap`]: 'raw' });
    expect(await readdir(join(dir, 'instance'))).toEqual(['disk.info']);
  });

  it("keys Rbd disks by nova's pseudo-path", async () => {
    const rbd = 'rbd:vms/uuid_disk:id=nova:conf=/etc/ceph/ceph.conf';
    expect(await info.recordFormat(rbd, 'raw')).toBe('raw');
    expect(await DiskInfo.forInstance(join(dir, 'instance')).readFormat(rbd)).toBe('raw');
  });

  it('never overwrites an entry: the first writer wins', async () => {
    await info.recordFormat(disk, 'raw');
    expect(await info.recordFormat(disk, 'qcow2')).toBe('raw');
    expect(await info.readFormat(disk)).toBe('raw');
    expect(await readFile(info.path, 'utf8')).toBe(`{"${disk}":"raw"}\n`);
  });

  it('reads the single-line files nova writes', async () => {
    await mkdir(join(dir, 'instance'));
    await writeFile(info.path, `{"${disk}": "raw", "/var/lib/nova/instances/uuid/disk.config": "raw"}\n`);
    expect(await info.readFormat(disk)).toBe('raw');
    expect(await info.recordFormat(`${disk}.local`, 'qcow2')).toBe('qcow2');
    expect(Object.keys(await info.read())).toHaveLength(3);
  });

  it.each([
    ['garbage', 'not json'],
    ['truncated JSON', `{"${disk}": "ra`],
    ['an array', '["raw"]'],
    ['null', 'null'],
    ['a string', '"raw"'],
    ['a number value', `{"${disk}": 1}`],
    ['an object value', `{"${disk}": {"format": "raw"}}`],
    ['an unknown format', `{"${disk}": "qcow3"}`],
    ['a format in the wrong case', `{"${disk}": "RAW"}`],
    ['an empty path', '{"": "raw"}'],
  ])('rejects %s with INVALID_DISK_INFO, and leaves the file alone', async (_, content) => {
    await mkdir(join(dir, 'instance'));
    await writeFile(info.path, content);
    for (const call of [() => info.readFormat(disk), () => info.read(), () => info.recordFormat('/other', 'raw')]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(InvalidDiskInfoError);
      expect(error).toMatchObject({ code: 'INVALID_DISK_INFO', path: info.path });
    }
    expect(await readFile(info.path, 'utf8')).toBe(content);
  });

  it('reports a read failure as DISK_INFO_READ_FAILED with the errno', async () => {
    await mkdir(info.path, { recursive: true }); // a folder where the file should be
    const error = await info.readFormat(disk).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiskInfoIoError);
    expect(error).toMatchObject({ code: 'DISK_INFO_READ_FAILED', errnoName: 'EISDIR', path: info.path });
  });

  it('reports a write failure as DISK_INFO_WRITE_FAILED with the errno', async () => {
    await writeFile(join(dir, 'not-a-folder'), '');
    const bad = DiskInfo.forInstance(join(dir, 'not-a-folder'));
    const error = await bad.recordFormat(disk, 'raw').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DiskInfoIoError);
    // mkdir -p of the instance folder meets the file.
    expect(error).toMatchObject({ code: 'DISK_INFO_WRITE_FAILED', errnoName: 'EEXIST' });
  });

  it('refuses to record over a disk.info it cannot read, leaving nothing behind', async () => {
    const other = join(dir, 'other');
    const unreadable = DiskInfo.forInstance(other);
    await mkdir(join(unreadable.path, 'x'), { recursive: true }); // a non-empty folder named disk.info
    const error = await unreadable.recordFormat(disk, 'raw').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'DISK_INFO_READ_FAILED', errnoName: 'EISDIR' });
    expect(await readdir(other)).toEqual(['disk.info']);
  });

  it('sweeps temporary files that dead writers left', async () => {
    await mkdir(join(dir, 'instance'));
    await writeFile(join(dir, 'instance', 'disk.info.tmp-0123456789ab'), '{"torn');
    await info.recordFormat(disk, 'raw');
    expect(await readdir(join(dir, 'instance'))).toEqual(['disk.info']);
  });

  it('keeps every entry when 60 writers record at once, and agrees on a contested path', async () => {
    const formats: DiskFormat[] = ['raw', 'qcow2'];
    const own = Array.from({ length: 60 }, (_, i) => info.recordFormat(`/d/${i}`, formats[i % 2] as DiskFormat));
    const contested = Array.from({ length: 20 }, (_, i) => new DiskInfo(info.path).recordFormat('/d/shared', formats[i % 2] as DiskFormat));
    await Promise.all(own);
    const answers = new Set(await Promise.all(contested));
    expect(answers.size).toBe(1);
    const entries = await info.read();
    expect(Object.keys(entries)).toHaveLength(61);
    expect(entries['/d/shared']).toBe([...answers][0]);
    for (let i = 0; i < 60; i++) expect(entries[`/d/${i}`]).toBe(formats[i % 2]);
  });

  it('resolves a format by detecting it once, then trusts the record', async () => {
    let detections = 0;
    const detect = async (): Promise<DiskFormat> => {
      detections++;
      return detections === 1 ? 'raw' : 'qcow2';
    };
    expect(await info.resolveFormat(disk, detect)).toBe('raw');
    expect(await info.resolveFormat(disk, detect)).toBe('raw');
    expect(detections).toBe(1);
    await expect(info.resolveFormat('/x', async () => 'bogus' as DiskFormat)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(await info.readFormat('/x')).toBeUndefined();
  });

  it('validates its arguments', async () => {
    expect(() => new DiskInfo('relative/disk.info')).toThrow("Expected an absolute path for path but received 'relative/disk.info'");
    await expect(info.readFormat('')).rejects.toThrow("Expected a disk path for diskPath but received ''");
    await expect(info.recordFormat(disk, 'qcow3' as DiskFormat)).rejects.toThrow(/Expected one of raw, qcow2, .* for format but received 'qcow3'/);
  });
});

describe('DiskInfo across processes, and the format-change attack', () => {
  let dist: string;
  let cleanupDist: () => Promise<void>;
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => ({ dist, cleanup: cleanupDist } = await compileLibrary()), 120_000);
  afterAll(() => cleanupDist?.());
  beforeEach(async () => ({ dir, remove } = await tempDir('diskinfo-procs')));
  afterEach(() => remove());

  it('keeps every entry with 8 processes × 20 writers, and no reader ever sees a torn file', async () => {
    const path = join(dir, 'disk.info');
    let polling = true;
    let reads = 0;
    const reader = (async () => {
      while (polling) {
        try {
          const text = await readFile(path, 'utf8');
          JSON.parse(text); // throws on a torn file
          reads++;
        } catch (error) {
          if ((error as { code?: string }).code !== 'ENOENT') throw error;
        }
      }
    })();
    const children = Array.from({ length: 8 }, (_, tag) => startChild(dist, 'diskinfo-writer.mjs', [path, '20', String(tag)]));
    const results = await Promise.all(children.map((c) => c.done));
    polling = false;
    await reader;
    for (const r of results) expect(r.stderr).toBe('');
    const shared = new Set(results.map((r) => r.stdout.trim()));
    expect(shared.size).toBe(1);
    const entries = await new DiskInfo(path).read();
    expect(Object.keys(entries)).toHaveLength(8 * 20 + 1);
    expect(`shared=${entries['/instances/x/shared']}`).toBe([...shared][0]);
    expect(reads).toBeGreaterThan(0);
    expect(await readdir(dir)).toEqual(['disk.info']);
  });

  it('a raw disk whose guest writes a qcow2 header still resolves to raw, here and in a new process', async () => {
    const instance = join(dir, 'instance');
    await mkdir(instance);
    const diskPath = join(instance, 'disk');
    execFileSync('qemu-img', ['create', '-f', 'raw', diskPath, '16M']);
    const info = DiskInfo.forInstance(instance);
    expect(await info.resolveFormat(diskPath, probe)).toBe('raw');

    // The guest writes a qcow2 header (pointing at a host file) into its raw disk.
    const evil = join(dir, 'evil.qcow2');
    execFileSync('qemu-img', ['create', '-f', 'qcow2', '-b', '/etc/shadow', '-F', 'raw', evil, '16M']);
    const header = await readFile(evil);
    const fh = await open(diskPath, 'r+');
    await fh.write(header, 0, Math.min(header.length, 65536), 0);
    await fh.close();
    expect(await probe(diskPath)).toBe('qcow2'); // probing would now be fooled

    expect(await info.resolveFormat(diskPath, probe)).toBe('raw');
    expect(await DiskInfo.forInstance(instance).resolveFormat(diskPath, probe)).toBe('raw');
    const child = await startChild(dist, 'diskinfo-resolve.mjs', [info.path, diskPath]).done;
    expect(child.stderr).toBe('');
    expect(child.stdout.trim()).toBe('format=raw');
    // Control: without the record, the same child is fooled.
    const fresh = await startChild(dist, 'diskinfo-resolve.mjs', [join(dir, 'other.info'), diskPath]).done;
    expect(fresh.stdout.trim()).toBe('format=qcow2');
  });
});
