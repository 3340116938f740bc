// A named pipe where a regular file is expected (issue 13): inspect(),
// copyRawData() (either side), the block-device calls, an overlay's base and
// disk.info all refuse it with UNSUPPORTED_FILE_TYPE instead of blocking in
// open(2)/read(2) forever. The calls run in a child process with a timeout,
// so a regression fails this test instead of hanging the suite.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { compileLibrary, startChild } from './helpers/compiled.js';

let dir: string;
let dist: string;
let cleanupDist: () => Promise<void>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'imagebackend-fifo-'));
  ({ dist, cleanup: cleanupDist } = await compileLibrary());
}, 120_000);

afterAll(async () => {
  await cleanupDist?.();
  await rm(dir, { recursive: true, force: true });
});

describe('a FIFO given where a file is expected', () => {
  it('is refused with UNSUPPORTED_FILE_TYPE by every call, and the process exits', async () => {
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const regular = join(dir, 'regular.raw');
    await writeFile(regular, Buffer.alloc(4096, 1));
    const scratch = join(dir, 'scratch');
    execFileSync('mkdir', [scratch]);

    const child = await startChild(dist, 'fifo-ops.mjs', [fifo, scratch, regular], 20_000).done;
    expect(child.signal, `the child hung (killed after 20 s); stdout: ${child.stdout}`).toBeNull();
    expect(child.code, child.stderr).toBe(0);
    const results = child.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { op: string; code: string; name: string; message: string });
    expect(results.map((r) => r.op)).toEqual([
      'inspect',
      'copySource',
      'copyDestination',
      'blockDeviceSize',
      'fallocate',
      'zeroRange',
      'overlayBase',
      'diskInfo',
    ]);
    for (const r of results) {
      expect({ op: r.op, code: r.code, name: r.name }).toEqual({ op: r.op, code: 'UNSUPPORTED_FILE_TYPE', name: 'UnsupportedFileTypeError' });
      expect(r.message).toContain('FIFO');
    }
    // Nothing was left behind: no partial copy, no overlay.
    expect(await readdir(scratch)).toEqual([]);
  });
});
