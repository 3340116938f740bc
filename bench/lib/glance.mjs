/* global fetch */
// The bench's Glance: scripts/glance-fixture.sh with its file store only (the
// image pipeline rows read images from Glance's file store), and uploads.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { ROOT } from './env.mjs';
import { run } from './harness.mjs';

const SCRIPT = join(ROOT, 'scripts', 'glance-fixture.sh');

/** Starts Glance in a new temporary folder; returns { url, fileStore, stop() }. */
export async function startGlance() {
  const dir = join(await mkdtemp(join(tmpdir(), 'imagebackend-bench-glance-')), 'glance');
  let stdout;
  try {
    ({ stdout } = await run('bash', [SCRIPT, 'start', dir]));
  } catch (error) {
    await rm(join(dir, '..'), { recursive: true, force: true });
    throw new Error(`the bench's Glance failed to start (see scripts/glance-fixture.sh):\n${error.message}`);
  }
  const env = Object.fromEntries(
    stdout
      .split('\n')
      .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
      .filter(Boolean)
      .map((m) => [m[1], m[2].replace(/^'(.*)'$/, '$1')]),
  );
  return {
    url: env.GLANCE_URL,
    fileStore: env.GLANCE_FILE_STORE,
    stop: async () => {
      await run('bash', [SCRIPT, 'stop', dir]);
      await rm(join(dir, '..'), { recursive: true, force: true });
    },
  };
}

/** Uploads `path` as a new image in Glance's file store; resolves with its record. */
export async function uploadImage(url, path, diskFormat) {
  const created = await fetch(`${url}/v2/images`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: `bench-${diskFormat}`, disk_format: diskFormat, container_format: 'bare' }),
  });
  if (created.status !== 201) throw new Error(`glance create: ${created.status}`);
  const { id } = await created.json();
  const put = await fetch(`${url}/v2/images/${id}/file`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String((await stat(path)).size) },
    body: Readable.toWeb(createReadStream(path)),
    duplex: 'half',
  });
  if (put.status !== 204) throw new Error(`glance upload: ${put.status} ${await put.text()}`);
  return (await fetch(`${url}/v2/images/${id}`)).json();
}
