// Runs in a mount namespace where librbd, librados and liblvm2cmd are absent
// (see native-optional-libs.test.ts): what a compute host without Ceph or
// lvm2 can do with the library. Prints one JSON line of observations.
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { Buffer } from 'node:buffer';
import { load } from './common.mjs';

const [libDir] = process.argv.slice(2);
const lib = await load('index.js');
const dir = await mkdtemp(join(tmpdir(), 'imagebackend-optional-libs-'));
const out = {};
try {
  out.librariesAbsent = ['librbd.so.1', 'librados.so.2', 'liblvm2cmd.so.2.03'].every((n) => !existsSync(join(libDir, n)));

  const base = join(dir, 'base.raw');
  execFileSync('qemu-img', ['create', '-q', '-f', 'raw', base, '4M']);
  await writeFile(base, Buffer.from('optional-libs base'), { flag: 'r+' });
  out.inspect = (await lib.inspect(base)).format;

  const overlay = join(dir, 'overlay.qcow2');
  await lib.createQcow2Overlay(overlay, { backingFile: base, backingFormat: 'raw' });
  out.overlay = (await lib.inspect(overlay)).backingFile === base;

  const copy = join(dir, 'copy.raw');
  await lib.copyRawData(base, copy);
  out.copy = (await readFile(copy)).equals(await readFile(base));
  out.blockDeviceSize = await lib.blockDeviceSize(base);

  // The file backends end to end: a qcow2 overlay and a raw copy of a cached base.
  const fetch = async ({ target }) => copyFile(base, target);
  for (const type of ['qcow2', 'raw']) {
    const backend = new lib.Backend({ instancesPath: join(dir, `instances-${type}`), imagesType: type });
    const disk = backend.image({ uuid: 'a0000000-0000-4000-8000-000000000001' }, 'disk');
    await disk.cache({ fetch, filename: 'base', imageId: 'image-1', size: 8 * 2 ** 20 });
    out[`backend-${type}`] = { exists: await disk.exists(), format: await disk.resolveDriverFormat(), size: (await stat(disk.path)).size };
    await backend.close();
  }

  const typed = async (fn) => {
    try {
      await fn();
      return { resolved: true };
    } catch (error) {
      return { code: error.code, name: error.constructor.name, message: error.message };
    }
  };
  out.rbd = await typed(() => lib.RbdCluster.connect({ cephConf: join(dir, 'absent.conf') }));
  out.lvm = await typed(() => new lib.LvmLibRunner().run(['version']));
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log(JSON.stringify(out));
