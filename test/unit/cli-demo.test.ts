// `imagebackend demo` and `provision` run end to end on real files (small sizes).
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { runDemo } from '../../src/cli/demo.js';
import { parseSize } from '../../src/cli/format.js';
import { runProvision } from '../../src/cli/provisionCommand.js';
import { validateDomain, domainWith } from './helpers/libvirt.js';
import { tempDir } from './helpers/system.js';

const MiB = 2 ** 20;

function collector(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.setEncoding('utf8').on('data', (c: string) => (text += c));
  return { stream, text: () => text };
}

describe('CLI demo and provision', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeEach(async () => ({ dir, remove } = await tempDir('cli-demo')));
  afterEach(() => remove());

  it('parses sizes', () => {
    expect(parseSize('1G')).toBe(2 ** 30);
    expect(parseSize('512MiB')).toBe(512 * MiB);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('1.5K')).toBe(1536);
    expect(parseSize('ten')).toBeUndefined();
  });

  it('demo: one fetch, N qcow2 disks, a snapshot, a valid libvirt disk, nothing left behind', async () => {
    const out = collector();
    const progress = collector();
    await runDemo({ count: 6, size: 64 * MiB, baseSize: 32 * MiB, keep: false, out: out.stream, progress: progress.stream });
    const text = out.text();
    expect(text).toContain('base image fetched 1 time(s)');
    // cache()'s report, printed as it came: no second inspection behind it.
    expect(text).toMatch(/What cache\(\) reported for [0-9a-f-]+[^\n]*\n {2}\{"created":true,"cloned":false,"fetched":(true|false),"format":"qcow2","virtualSize":67108864,"base":"_base\/[0-9a-f]+"\}/);
    expect(text).toMatch(/timings \(ms\): \{[^}]*"create":[0-9.]+[^}]*"total":[0-9.]+\}/);
    expect(text.match(/ qcow2 {2,}64 MiB /g)).toHaveLength(6);
    expect(text).toMatch(/Snapshot[^\n]*\n[^\n]*\n {2}format qcow2, virtual 64 MiB[^\n]*backing file: none/);
    expect(progress.text()).toContain('6/6 disks');
    const xml = /<disk type[\s\S]*<\/disk>/.exec(text)?.[0] ?? '';
    expect(validateDomain(domainWith(xml.replace(/^ {2}/gm, ''))).valid).toBe(true);
    const folder = /instances folder: (\S+)/.exec(text)?.[1] ?? '';
    await expect(readdir(folder)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('provision --backend raw into a given instances folder, JSON report', async () => {
    const out = collector();
    await runProvision({
      backend: 'raw',
      count: 4,
      size: 48 * MiB,
      baseSize: 16 * MiB,
      concurrency: 2,
      instancesPath: dir,
      cleanup: false,
      keep: false,
      json: true,
      out: out.stream,
    });
    const report = JSON.parse(out.text()) as { fetches: number; disks: Array<{ format: string; virtualSize: number; path: string }> };
    expect(report.fetches).toBe(1);
    expect(report.disks).toHaveLength(4);
    for (const d of report.disks) {
      expect(d).toMatchObject({ format: 'raw', virtualSize: 48 * MiB });
      expect(d.path.startsWith(dir)).toBe(true);
    }
    expect((await readdir(dir)).filter((e) => e !== '_base' && e !== 'locks')).toHaveLength(4);
    expect(await readdir(join(dir, '_base'))).toHaveLength(1);
  });

  it('provision --cleanup removes every disk through the disk handle (no backend class needed)', async () => {
    const out = collector();
    await runProvision({
      backend: 'raw',
      count: 3,
      size: 48 * MiB,
      baseSize: 16 * MiB,
      concurrency: 2,
      instancesPath: dir,
      cleanup: true,
      keep: false,
      json: true,
      out: out.stream,
    });
    const report = JSON.parse(out.text()) as { disks: Array<{ path: string; created: boolean; fetched: boolean }> };
    expect(report.disks).toHaveLength(3);
    expect(report.disks.filter((d) => d.created)).toHaveLength(3);
    expect(report.disks.filter((d) => d.fetched)).toHaveLength(1);
    expect((await readdir(dir)).filter((e) => e !== '_base' && e !== 'locks')).toEqual([]);
  });
});
