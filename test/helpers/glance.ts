// The test Glance (scripts/glance-fixture.sh, started by the integration
// setup): its settings, and images uploaded to it over plain HTTP.
import { execFile } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { inject } from 'vitest';

import type { GlanceImageService } from '../../src/images/GlanceImageService.js';
import type { GlanceEnv } from '../setup/glance-env.js';
import { sparseFile } from './files.js';

const run = promisify(execFile);

/** The test Glance; fails (never skips) when the run left it out. */
export function glanceEnv(): GlanceEnv {
  const env = inject('glance');
  if (!env) throw new Error('the test Glance is not running: unset IMAGEBACKEND_NO_GLANCE (scripts/glance-fixture.sh needs the glance-api package)');
  return env;
}

/** Glance's JSON for one image. */
export type GlanceImage = Record<string, unknown> & { id: string; status: string };

/**
 * Creates an image record and uploads `path`'s bytes into `store`
 * (`local`: the file store, `ceph`: the rbd store); resolves with the active record.
 */
export async function uploadImage(
  endpoint: string,
  path: string,
  fields: { disk_format: string; container_format?: string; name?: string; store: 'local' | 'ceph' },
): Promise<GlanceImage> {
  const created = await fetch(`${endpoint}/v2/images`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ name: fields.name ?? 'test', disk_format: fields.disk_format, container_format: fields.container_format ?? 'bare' }),
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);
  const { id } = (await created.json()) as { id: string };
  const put = await fetch(`${endpoint}/v2/images/${id}/file`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'X-Image-Meta-Store': fields.store },
    body: await readFile(path),
  });
  if (put.status !== 204) throw new Error(`upload: ${put.status} ${await put.text()}`);
  return getImage(endpoint, id);
}

export async function getImage(endpoint: string, id: string): Promise<GlanceImage> {
  const res = await fetch(`${endpoint}/v2/images/${id}`);
  if (res.status !== 200) throw new Error(`get ${id}: ${res.status}`);
  return (await res.json()) as GlanceImage;
}

export async function deleteImage(endpoint: string, id: string): Promise<void> {
  await fetch(`${endpoint}/v2/images/${id}`, { method: 'DELETE' }).then((r) => r.body?.cancel());
}

/** What {@link uploadTestImages} put into the test Glance: one content as raw and as qcow2. */
export interface TestImages {
  /** The raw source file (sparse: random data in the extents asked for, holes elsewhere). */
  source: string;
  /** Its bytes. */
  sourceBytes: Buffer;
  /** The same content converted to qcow2 by qemu-img. */
  qcow2: string;
  /** The raw file in Glance's file store (not cloneable). */
  rawInFile: GlanceImage;
  /** The qcow2 file in Glance's file store. */
  qcow2InFile: GlanceImage;
  /** The raw file in Glance's rbd store (cloneable), when asked for. */
  rawInCeph?: GlanceImage;
}

/** The fixture content unless a test asks for another: 24 MiB, random data in its first MiB and at 9–12 MiB. */
const DEFAULT_LAYOUT: { size: number; extents: Array<[number, number]> } = {
  size: 24 * 2 ** 20,
  extents: [
    [0, 2 ** 20],
    [9 * 2 ** 20, 3 * 2 ** 20],
  ],
};

/**
 * The fixture images the Glance tests share: a sparse raw file of `size`
 * bytes with random data in `extents` (default: 24 MiB with 4 MiB of data),
 * its qcow2 conversion, both uploaded to the file store (and the raw one to
 * the rbd store with `ceph: true`).
 */
export async function uploadTestImages(
  endpoint: string,
  dir: string,
  options: { size?: number; extents?: Array<[number, number]>; ceph?: boolean } = {},
): Promise<TestImages> {
  const source = join(dir, 'source.raw');
  const { size, extents } = options.size === undefined ? DEFAULT_LAYOUT : { size: options.size, extents: options.extents ?? [] };
  await sparseFile(source, size, extents);
  const qcow2 = join(dir, 'source.qcow2');
  await run('qemu-img', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', source, qcow2]);
  const [rawInFile, qcow2InFile, rawInCeph] = await Promise.all([
    uploadImage(endpoint, source, { disk_format: 'raw', store: 'local' }),
    uploadImage(endpoint, qcow2, { disk_format: 'qcow2', store: 'local' }),
    options.ceph ? uploadImage(endpoint, source, { disk_format: 'raw', store: 'ceph' }) : Promise.resolve(undefined),
  ]);
  return { source, sourceBytes: await readFile(source), qcow2, rawInFile, qcow2InFile, ...(rawInCeph ? { rawInCeph } : {}) };
}

/** An image service that counts the `get` and `download` calls it passes on to `service`. */
export function countingService(service: GlanceImageService): {
  service: Pick<GlanceImageService, 'get' | 'download'>;
  counts: { get: number; download: number };
} {
  const counts = { get: 0, download: 0 };
  return {
    counts,
    service: {
      get: (...args) => {
        counts.get++;
        return service.get(...args);
      },
      download: (...args) => {
        counts.download++;
        return service.download(...args);
      },
    },
  };
}

/** Overwrites bytes of an image in Glance's file store: what a tampered store looks like. */
export async function tamperStoredImage(env: GlanceEnv, id: string, offset: number): Promise<void> {
  const fh = await open(join(env.fileStore, id), 'r+');
  try {
    await fh.write(Buffer.from('tampered'), 0, 8, offset);
  } finally {
    await fh.close();
  }
}
