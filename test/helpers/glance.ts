// The test Glance (scripts/glance-fixture.sh, started by the integration
// setup): its settings, and images uploaded to it over plain HTTP.
import { readFile } from 'node:fs/promises';

import { inject } from 'vitest';

import type { GlanceEnv } from '../setup/glance-env.js';

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
