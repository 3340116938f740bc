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

  it('explains a real failure: an addon whose librbd cannot be found', async () => {
    // The real binary loaded in a child whose loader cannot see librbd.
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, copyFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'loader-'));
    try {
      const bin = join(dir, 'imagebackend.node');
      copyFileSync(join(import.meta.dirname, '../../build/Release/imagebackend.node'), bin);
      // Ask for a librbd soname that no system has, as on a host without the
      // matching librbd package.
      const buf = (await import('node:fs')).readFileSync(bin);
      const at = buf.indexOf('librbd.so.1');
      expect(at).toBeGreaterThan(0);
      buf.write('librbd.so.9', at, 'latin1');
      (await import('node:fs')).writeFileSync(bin, buf);
      let message = '';
      try {
        execFileSync(process.execPath, ['-e', `require(${JSON.stringify(bin)})`], { stdio: 'pipe' });
      } catch (e) {
        message = String((e as { stderr: Buffer }).stderr);
      }
      expect(message).toMatch(/librbd\.so\.9: cannot open shared object file/);
      const explained = explainLoadFailure(new Error(message.split('\n').find((l) => l.includes('cannot open')) ?? ''));
      expect(explained.message).toMatch(/librbd\/librados are not installed/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
