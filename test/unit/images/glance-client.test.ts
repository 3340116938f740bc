// GlanceImageService against a local HTTP server that plays Glance's v2 API:
// what is sent (path, token, request id), how answers become records and
// typed errors, retries, timeouts, aborts, streaming and registerSnapshot.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { ImageBackendError, ImageServiceError } from '../../../src/errors.js';
import { GlanceImageService } from '../../../src/images/GlanceImageService.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

let server: Server;
let endpoint: string;
let handler: Handler;
const seen: { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer }[] = [];

beforeEach(async () => {
  seen.length = 0;
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      handler(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const FSID = '11111111-2222-3333-4444-555555555555';
const ID = 'a1b2c3d4-0000-4000-8000-000000000001';

function json(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'x-openstack-request-id': 'req-abc', ...headers });
  res.end(JSON.stringify(value));
}

function image(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id: ID, status: 'active', disk_format: 'raw', size: 4, virtual_size: 4, os_hash_algo: 'sha512', stores: 'ceph', ...extra };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(e).toBeInstanceOf(ImageBackendError);
  return (e as ImageBackendError).code;
}

describe('GlanceImageService.get', () => {
  it('folds direct_url into locations as nova does, keeps stores as an array and sends the context token', async () => {
    handler = (_req, res) => json(res, 200, image({ direct_url: `rbd://${FSID}/images/${ID}/snap` }));
    const glance = new GlanceImageService({ endpoint, token: 'service-token' });
    const record = await glance.get({ authToken: 'user-token', globalRequestId: 'req-global' }, ID, { includeLocations: true });
    expect(seen[0]!.url).toBe(`/v2/images/${ID}`);
    expect(seen[0]!.headers['x-auth-token']).toBe('user-token');
    expect(seen[0]!.headers['x-openstack-request-id']).toBe('req-global');
    expect(record.stores).toEqual(['ceph']);
    expect(record.locations).toEqual([{ url: `rbd://${FSID}/images/${ID}/snap`, metadata: { store: 'ceph' } }]);
    // without includeLocations, no locations
    expect((await glance.get(undefined, ID)).locations).toBeUndefined();
    expect(seen[1]!.headers['x-auth-token']).toBe('service-token');
  });

  it('does not repeat direct_url when locations already list it, and puts this cluster and preferred stores first', async () => {
    const mine = `rbd://${FSID}/images/${ID}/snap`;
    handler = (_req, res) =>
      json(
        res,
        200,
        image({
          stores: 'local,other,ceph',
          direct_url: 'file:///var/lib/glance/images/x',
          locations: [
            { url: 'file:///var/lib/glance/images/x', metadata: { store: 'local' } },
            { url: `rbd://other-fsid/images/${ID}/snap`, metadata: { store: 'other' } },
            { url: mine, metadata: { store: 'ceph' } },
          ],
        }),
      );
    const record = await new GlanceImageService({ endpoint, cephFsid: FSID, preferredStores: ['other'] }).get({ auth_token: 't' }, ID, { includeLocations: true });
    expect(record.locations!.map((l) => l.metadata!.store)).toEqual(['ceph', 'other', 'local']);
    expect(record.stores).toEqual(['local', 'other', 'ceph']);
    expect(seen[0]!.headers['x-auth-token']).toBe('t');
  });

  it.each([
    [401, 'IMAGE_SERVICE_UNAUTHORIZED'],
    [403, 'IMAGE_SERVICE_FORBIDDEN'],
    [404, 'IMAGE_NOT_FOUND'],
    [409, 'IMAGE_SERVICE_CONFLICT'],
    [400, 'IMAGE_SERVICE_FAILED'],
  ])('maps %i to %s with the status and request id, without retrying', async (status, code) => {
    handler = (_req, res) => json(res, status, { message: 'no' });
    const error = await new GlanceImageService({ endpoint, retryDelayMs: 1 }).get({}, ID).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageServiceError);
    expect(error).toMatchObject({ code, status, requestId: 'req-abc', imageId: ID, operation: 'get' });
    expect(seen).toHaveLength(1);
  });

  it('retries 5xx and then succeeds; gives up with IMAGE_SERVICE_UNAVAILABLE after the retries', async () => {
    let calls = 0;
    handler = (_req, res) => (++calls < 3 ? json(res, 503, {}) : json(res, 200, image()));
    const glance = new GlanceImageService({ endpoint, retries: 2, retryDelayMs: 1 });
    expect((await glance.get({}, ID)).id).toBe(ID);
    expect(calls).toBe(3);
    handler = (_req, res) => json(res, 500, {});
    seen.length = 0;
    expect(await codeOf(glance.get({}, ID))).toBe('IMAGE_SERVICE_UNAVAILABLE');
    expect(seen).toHaveLength(3);
  });

  it('reports a refused connection as IMAGE_SERVICE_UNAVAILABLE (an outage, never a fallback)', async () => {
    const glance = new GlanceImageService({ endpoint: 'http://127.0.0.1:1', retries: 0 });
    expect(await codeOf(glance.get({}, ID))).toBe('IMAGE_SERVICE_UNAVAILABLE');
  });

  it('times out a silent service with IMAGE_SERVICE_TIMEOUT, and aborts with ABORTED', async () => {
    handler = () => {}; // never answers
    const glance = new GlanceImageService({ endpoint, timeoutMs: 100, retries: 1, retryDelayMs: 1 });
    expect(await codeOf(glance.get({}, ID))).toBe('IMAGE_SERVICE_TIMEOUT');
    expect(seen).toHaveLength(2);
    const controller = new AbortController();
    const pending = new GlanceImageService({ endpoint, timeoutMs: 10_000 }).get({}, ID, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    expect(await codeOf(pending)).toBe('ABORTED');
  });

  it('refuses an id that is not one (no path injection)', async () => {
    handler = (_req, res) => json(res, 200, image());
    expect(await codeOf(new GlanceImageService({ endpoint }).get({}, '../schemas'))).toBe('INVALID_ARGUMENT');
    expect(seen).toHaveLength(0);
  });
});

describe('GlanceImageService.download', () => {
  it('streams /v2/images/{id}/file', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.write(Buffer.alloc(100_000, 1));
      setTimeout(() => res.end(Buffer.alloc(5, 2)), 20);
    };
    const chunks: Buffer[] = [];
    for await (const c of await new GlanceImageService({ endpoint }).download({}, ID)) chunks.push(Buffer.from(c));
    expect(seen[0]!.url).toBe(`/v2/images/${ID}/file`);
    const all = Buffer.concat(chunks);
    expect(all.length).toBe(100_005);
    expect(all.at(-1)).toBe(2);
  });

  it('ends a stalled stream with IMAGE_SERVICE_TIMEOUT and an image without data with IMAGE_NOT_ACTIVE', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.write(Buffer.alloc(10));
    };
    const glance = new GlanceImageService({ endpoint, timeoutMs: 150 });
    const read = async () => {
      for await (const _ of await glance.download({}, ID));
    };
    expect(await codeOf(read())).toBe('IMAGE_SERVICE_TIMEOUT');
    handler = (_req, res) => {
      res.writeHead(204);
      res.end();
    };
    expect(await codeOf(glance.download({}, ID))).toBe('IMAGE_NOT_ACTIVE');
  });

  it('ends a cut connection with IMAGE_SERVICE_UNAVAILABLE', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': '1000' });
      res.write(Buffer.alloc(10));
      setTimeout(() => res.destroy(), 20);
    };
    const read = async () => {
      for await (const _ of await new GlanceImageService({ endpoint }).download({}, ID));
    };
    expect(await codeOf(read())).toBe('IMAGE_SERVICE_UNAVAILABLE');
  });
});

describe('GlanceImageService.registerSnapshot', () => {
  it('creates the record and adds the rbd location', async () => {
    const url = `rbd://${FSID}/images/${ID}/snap`;
    handler = (req, res) => {
      if (req.method === 'POST') json(res, 201, image({ status: 'queued' }));
      else if (req.method === 'PATCH') json(res, 200, image());
      else json(res, 200, image({ locations: [{ url, metadata: {} }] }));
    };
    const done = await new GlanceImageService({ endpoint }).registerSnapshot({}, { name: 'snap', diskFormat: 'raw', location: url });
    expect(done.via).toBe('location');
    expect(JSON.parse(seen[0]!.body.toString())).toMatchObject({ name: 'snap', disk_format: 'raw', container_format: 'bare' });
    expect(seen[1]!.headers['content-type']).toBe('application/openstack-images-v2.1-json-patch');
    expect(JSON.parse(seen[1]!.body.toString())).toEqual([{ op: 'add', path: '/locations/-', value: { url, metadata: {} } }]);
  });

  it('uploads the bytes when Glance refuses locations, and deletes the record it made when that fails too', async () => {
    handler = (req, res) => {
      if (req.method === 'POST') json(res, 201, image({ status: 'queued' }));
      else if (req.method === 'PATCH') json(res, 403, {});
      else if (req.method === 'PUT') {
        res.writeHead(204);
        res.end();
      } else json(res, 200, image());
    };
    const glance = new GlanceImageService({ endpoint });
    const upload = async function* () {
      yield new Uint8Array([1, 2]);
      yield new Uint8Array([3]);
    };
    const done = await glance.registerSnapshot({}, { name: 's', diskFormat: 'raw', location: 'rbd://f/p/i/s', upload });
    expect(done.via).toBe('upload');
    const put = seen.find((s) => s.method === 'PUT')!;
    expect(put.url).toBe(`/v2/images/${ID}/file`);
    expect([...put.body]).toEqual([1, 2, 3]);

    seen.length = 0;
    handler = (req, res) => {
      if (req.method === 'POST') json(res, 201, image({ status: 'queued' }));
      else if (req.method === 'PATCH') json(res, 403, {});
      else if (req.method === 'PUT') json(res, 413, {});
      else json(res, 204, {});
    };
    expect(await codeOf(glance.registerSnapshot({}, { name: 's', diskFormat: 'raw', location: 'rbd://f/p/i/s', upload }))).toBe('IMAGE_SERVICE_FAILED');
    expect(seen.map((s) => s.method)).toEqual(['POST', 'PATCH', 'PUT', 'DELETE']);
    // without an upload, the refusal is the error
    seen.length = 0;
    expect(await codeOf(glance.registerSnapshot({}, { name: 's', diskFormat: 'raw', location: 'rbd://f/p/i/s' }))).toBe('IMAGE_SERVICE_FORBIDDEN');
  });
});
