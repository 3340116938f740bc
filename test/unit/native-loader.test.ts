import { describe, expect, it } from 'vitest';

import { NativeLoadError } from '../../src/errors.js';
import { explainLoadFailure, native } from '../../src/native.js';

describe('native addon loader', () => {
  it('loads the built addon once', () => {
    expect(native()).toBe(native());
    expect(typeof native().rbdConnect).toBe('function');
  });

  it.each([
    [
      'librbd.so.1: cannot open shared object file: No such file or directory',
      /librbd\/librados are not installed.*apt-get install librbd1 librados2/,
    ],
    [
      'liblvm2cmd.so.2.03: cannot open shared object file: No such file or directory',
      /liblvm2cmd is not installed.*liblvm2cmd2\.03/,
    ],
    [
      'The module was compiled against a different Node.js version using NODE_MODULE_VERSION 108',
      /another Node\.js ABI.*npm rebuild imagebackend/,
    ],
    ['No native build was found for platform=linux arch=x64 runtime=node abi=115', /never built.*npm run build:native/],
    ['something else entirely', /failed to load.*npm rebuild imagebackend/],
  ])('names the cause and the fix for %j', (message, expected) => {
    const cause = new Error(message);
    const error = explainLoadFailure(cause);
    expect(error).toBeInstanceOf(NativeLoadError);
    expect(error.code).toBe('NATIVE_LOAD_FAILED');
    expect(error.message).toMatch(expected);
    expect(error.message).toContain(message);
    expect(error.cause).toBe(cause);
  });

  it('a missing librbd fails on first use, not at load: the addon opens it with dlopen', async () => {
    // The real binary, patched to ask for a librbd soname no system has (a
    // host without the matching librbd package), loaded in a child.
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, copyFileSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'loader-'));
    try {
      const bin = join(dir, 'imagebackend.node');
      copyFileSync(join(import.meta.dirname, '../../build/Release/imagebackend.node'), bin);
      const buf = readFileSync(bin);
      const at = buf.indexOf('librbd.so.1');
      expect(at).toBeGreaterThan(0);
      buf.write('librbd.so.9', at, 'latin1');
      writeFileSync(bin, buf);
      const script = `const a = require(${JSON.stringify(bin)});
        a.rbdConnect({ cephConf: '/nonexistent.conf' }).then(
          () => console.log(JSON.stringify({ resolved: true })),
          (e) => console.log(JSON.stringify({ code: e.code, syscall: e.syscall, message: e.message })),
        );`;
      const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim()) as Record<string, string>;
      expect(out).toMatchObject({ code: 'ELIBACC', syscall: 'dlopen' });
      expect(out.message).toMatch(/librbd\.so\.9: cannot open shared object file.*apt-get install librbd1 librados2/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
