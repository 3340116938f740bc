// A host without Ceph or lvm2: the addon links none of librbd, librados or
// liblvm2cmd (it opens them on first use, native/dynlib), so inspection,
// overlays, block-device operations and the file backends work without them,
// and the RBD classes and the in-process LVM runner fail with a typed error
// naming the package to install. Proven in a mount namespace where an overlay
// with whiteouts makes the libraries really absent from the library folder.
import { execFile, execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { childScript, compileLibrary } from './helpers/compiled.js';
import { requireRoot, tempDir } from './helpers/system.js';

const OPTIONAL = /^(librbd|librados|liblvm2cmd)\.so/;
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

/** The binary the library loads (node-gyp-build's choice: build/Release here). */
function binary(): string {
  const gypBuild = createRequire(import.meta.url)('node-gyp-build') as { path: (dir: string) => string };
  return gypBuild.path(root);
}

/** The folder the dynamic linker finds librbd.so.1 in (ldconfig's cache). */
function libraryDir(): string {
  const line = execFileSync('ldconfig', ['-p'], { encoding: 'utf8' })
    .split('\n')
    .find((l) => l.trim().startsWith('librbd.so.1 ') && l.includes('x86-64'));
  if (!line) throw new Error('librbd.so.1 is not installed here: the test needs it present to hide it');
  return dirname(line.split('=>')[1]!.trim());
}

describe('the addon without librbd, librados and liblvm2cmd', () => {
  it('links none of them and leaves none of their functions undefined', () => {
    const node = binary();
    const needed = execFileSync('readelf', ['-d', node], { encoding: 'utf8' });
    expect(needed).not.toMatch(/librbd|librados|liblvm2cmd/);
    const undefinedSymbols = execFileSync('nm', ['-D', '--undefined-only', node], { encoding: 'utf8' })
      .split('\n')
      .map((l) => l.trim().split(/\s+/).pop() ?? '')
      .filter((name) => /^(rbd|rados|lvm2)_/.test(name));
    // A function called anywhere in native/ but missing from the loaders'
    // lists (native/rbd/librbd_loader.cc, native/lvm/liblvm2cmd_loader.cc)
    // would show up here, and crash the process on its first call.
    expect(undefinedSymbols).toEqual([]);
  });

  describe('in a mount namespace where they are absent', () => {
    let dist: string;
    let cleanup: () => Promise<void>;
    let work: { dir: string; remove: () => Promise<void> };
    let seen: Record<string, unknown>;

    beforeAll(async () => {
      requireRoot('hiding libraries in a mount namespace');
      ({ dist, cleanup } = await compileLibrary());
      work = await tempDir('optional-libs');
      const libDir = libraryDir();
      const upper = join(work.dir, 'upper');
      const workdir = join(work.dir, 'work');
      await mkdir(upper);
      await mkdir(workdir);
      // A whiteout (a 0/0 character device in the upper layer) hides each file.
      const hidden = readdirSync(libDir).filter((n) => OPTIONAL.test(n));
      expect(hidden).toEqual(expect.arrayContaining(['librbd.so.1', 'librados.so.2', 'liblvm2cmd.so.2.03']));
      for (const name of hidden) execFileSync('mknod', [join(upper, name), 'c', '0', '0']);
      const script = 'mount -t overlay overlay -o "lowerdir=$1,upperdir=$2,workdir=$3" "$1" && shift 3 && exec "$@"';
      const { stdout } = await promisify(execFile)(
        'unshare',
        ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, 'sh', libDir, upper, workdir, process.execPath, childScript('optional-libs.mjs'), libDir],
        { env: { ...process.env, IMAGEBACKEND_DIST: dist }, timeout: 120_000 },
      );
      seen = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
    }, 180_000);

    afterAll(async () => {
      await cleanup?.();
      await work?.remove();
    });

    it('really has none of them', () => {
      expect(seen.librariesAbsent).toBe(true);
    });

    it('inspects, writes overlays, copies and sizes files', () => {
      expect(seen.inspect).toBe('raw');
      expect(seen.overlay).toBe(true);
      expect(seen.copy).toBe(true);
      expect(seen.blockDeviceSize).toBe(4 * 2 ** 20);
    });

    it('provisions qcow2 and raw disks', () => {
      expect(seen['backend-qcow2']).toMatchObject({ exists: true, format: 'qcow2' });
      expect(seen['backend-raw']).toEqual({ exists: true, format: 'raw', size: 8 * 2 ** 20 });
    });

    it('fails RBD on first use with LIBRARY_NOT_FOUND naming the Ceph packages', () => {
      expect(seen.rbd).toMatchObject({ code: 'LIBRARY_NOT_FOUND', name: 'LibraryNotFoundError' });
      expect((seen.rbd as { message: string }).message).toMatch(/librados\.so\.2.*apt-get install librbd1 librados2/);
    });

    it('fails the in-process LVM runner on first use with LIBRARY_NOT_FOUND naming liblvm2cmd2.03', () => {
      expect(seen.lvm).toMatchObject({ code: 'LIBRARY_NOT_FOUND', name: 'LibraryNotFoundError' });
      expect((seen.lvm as { message: string }).message).toMatch(/liblvm2cmd\.so\.2\.03.*apt-get install liblvm2cmd2\.03/);
    });
  });
});
