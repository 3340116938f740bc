/**
 * A Glance v2 client: the {@link ImageService} the pipeline and the Rbd
 * backend read images through, and the way a direct snapshot is registered
 * back. Node's own fetch (undici) does the HTTP.
 */
import { abortError } from '../abort.js';
import { ImageServiceError, invalidArgument, imageServiceError, imageRefusedError } from '../errors.js';
import { messageOf } from '../fsutil/errno.js';
import { send, type HttpRequest, type HttpResponse } from './http.js';
import type { DownloadImageOptions, GetImageOptions, ImageRecord, ImageRecordLocation, ImageService } from './ImageService.js';

/** How a {@link GlanceImageService} reaches Glance. */
export interface GlanceImageServiceOptions {
  /** Glance's API endpoint, e.g. `http://glance:9292` (the `/v2` paths are added). */
  endpoint: string;
  /** A Keystone token sent as `X-Auth-Token` when the context carries none. */
  token?: string;
  /** Limit of each request until its answer is read (a download: until its headers, then between chunks); default 60 s. */
  timeoutMs?: number;
  /** Retries of idempotent reads (get, download before its first byte) on 5xx, lost connections and timeouts; default 3 (nova's `[glance] num_retries`). */
  retries?: number;
  /** First retry's delay, doubled each time; default 500 ms. */
  retryDelayMs?: number;
  /** This host's Ceph cluster fsid: `rbd://<fsid>/...` locations are listed first, so the cluster's own copy is preferred. */
  cephFsid?: string;
  /** Glance store names to prefer, in order (e.g. `['ceph']`), when an image is in several. */
  preferredStores?: string[];
}

/**
 * The caller's request context, as far as Glance is concerned: nova's
 * `RequestContext` fields by their nova or camel-case names.
 */
export interface ImageServiceContext {
  /** Keystone token, sent as `X-Auth-Token` (nova: `auth_token`). */
  authToken?: string;
  /** Sent as `X-OpenStack-Request-ID` (nova: `global_request_id`). */
  globalRequestId?: string;
}

/** What {@link GlanceImageService.registerSnapshot} is asked to record. */
export interface RegisterSnapshotOptions {
  /** An image record made beforehand (e.g. the id a direct snapshot was written under); absent: one is created. */
  imageId?: string;
  /** Name of a new record. */
  name?: string;
  /** The snapshot's `disk_format`, e.g. `raw`. */
  diskFormat: string;
  /** Default `bare`. */
  containerFormat?: string;
  /** Extra properties of a new record (e.g. `{ instance_uuid, image_type: 'snapshot' }`). */
  properties?: Record<string, string>;
  /** The direct snapshot's `rbd://fsid/pool/image/snap` URL, added as the image's location. */
  location?: string;
  /** The snapshot's bytes, uploaded when there is no location or Glance will not take one (locations hidden). */
  upload?: () => AsyncIterable<Uint8Array> | Promise<AsyncIterable<Uint8Array>>;
  /** Aborts; a record this call created is deleted. */
  signal?: AbortSignal;
}

/** How {@link GlanceImageService.registerSnapshot} recorded the snapshot. */
export interface RegisteredSnapshot {
  /** The image's record afterwards. */
  image: ImageRecord;
  /** `location`: Glance points at the RBD snapshot; `upload`: Glance holds a copy of the bytes. */
  via: 'location' | 'upload';
}

const IMAGE_ID = /^[A-Za-z0-9._~-]{1,255}$/;
const JSON_PATCH = 'application/openstack-images-v2.1-json-patch';

/**
 * A Glance v2 image service.
 *
 * @example
 * ```ts
 * const glance = new GlanceImageService({ endpoint: 'http://glance:9292', cephFsid: await driver.getFsid() });
 * const image = await glance.get({ authToken }, imageId, { includeLocations: true });
 * console.log(image.status, image.disk_format, image.locations?.map((l) => l.url));
 * ```
 */
export class GlanceImageService implements ImageService {
  readonly #endpoint: string;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #retryDelayMs: number;
  readonly #cephFsid: string | undefined;
  readonly #preferredStores: string[];

  constructor(options: GlanceImageServiceOptions) {
    if (options === null || typeof options !== 'object') throw invalidArgument('an options object', 'options', options);
    let url: URL;
    try {
      url = new URL(options.endpoint);
    } catch {
      throw invalidArgument('an http(s) URL', 'endpoint', options.endpoint);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidArgument('an http(s) URL', 'endpoint', options.endpoint);
    this.#endpoint = url.href.replace(/\/+$/, '').replace(/\/v2$/, '');
    if (options.token !== undefined && typeof options.token !== 'string') throw invalidArgument('a string', 'token', options.token);
    this.#token = options.token;
    this.#timeoutMs = count('timeoutMs', options.timeoutMs, 60_000);
    this.#retries = count('retries', options.retries, 3);
    this.#retryDelayMs = count('retryDelayMs', options.retryDelayMs, 500);
    this.#cephFsid = options.cephFsid;
    this.#preferredStores = options.preferredStores ?? [];
  }

  /**
   * The image's record (`GET /v2/images/{id}`). With `includeLocations`,
   * `locations` also holds `direct_url` (nova's `_get_locations`: Glance
   * behind Ceph usually shows only that), each location keeps its store, and
   * this cluster's and the preferred stores' locations come first.
   * `stores` is an array.
   *
   * @example
   * ```ts
   * const image = await glance.get(context, imageId, { includeLocations: true, signal });
   * ```
   * @throws {@link ImageServiceError} `IMAGE_NOT_FOUND`, `IMAGE_SERVICE_*`; `ABORTED`.
   */
  async get(context: unknown, imageId: string, options: GetImageOptions = {}): Promise<ImageRecord> {
    checkId(imageId);
    const res = await this.#send(context, { method: 'GET', path: `/v2/images/${imageId}`, operation: 'get', imageId, retries: this.#retries, signal: options.signal });
    const body = await readJson(res, 'get', imageId, options.signal);
    return this.#toRecord(body, imageId, options.includeLocations ?? false);
  }

  /**
   * The image's stored bytes (`GET /v2/images/{id}/file`) as a stream. The
   * request is retried until its headers arrive; then a stall longer than
   * `timeoutMs` between chunks ends the stream with `IMAGE_SERVICE_TIMEOUT`.
   * Breaking out of the loop closes the connection.
   *
   * @example
   * ```ts
   * for await (const chunk of await glance.download(context, imageId, { signal })) await out.write(chunk);
   * ```
   * @throws {@link ImageServiceError}; {@link ImageRefusedError} `IMAGE_NOT_ACTIVE` when the image has no data.
   */
  async download(context: unknown, imageId: string, options: DownloadImageOptions = {}): Promise<AsyncIterable<Uint8Array>> {
    checkId(imageId);
    const res = await this.#send(context, {
      method: 'GET',
      path: `/v2/images/${imageId}/file`,
      operation: 'download',
      imageId,
      retries: this.#retries,
      signal: options.signal,
      headers: { Accept: 'application/octet-stream' },
    });
    res.release();
    if (res.response.status === 204 || res.response.body === null) {
      throw imageRefusedError('IMAGE_NOT_ACTIVE', `image ${imageId} has no data to download`, imageId, { operation: 'download' });
    }
    return streamBody(res, this.#timeoutMs, imageId, options.signal);
  }

  /**
   * Creates an image record (`POST /v2/images`).
   *
   * @example
   * ```ts
   * const record = await glance.create(context, { name: 'snap', disk_format: 'raw', container_format: 'bare' });
   * ```
   */
  async create(context: unknown, fields: Record<string, unknown>, options: { signal?: AbortSignal } = {}): Promise<ImageRecord> {
    if (fields === null || typeof fields !== 'object') throw invalidArgument('an object', 'fields', fields);
    const res = await this.#send(context, {
      method: 'POST',
      path: '/v2/images',
      operation: 'create',
      retries: 0,
      signal: options.signal,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(fields),
    });
    const body = await readJson(res, 'create', undefined, options.signal);
    return this.#toRecord(body, undefined, true);
  }

  /**
   * Deletes an image record and its data (`DELETE /v2/images/{id}`); a
   * missing image is not an error.
   *
   * @example
   * ```ts
   * await glance.delete(context, imageId);
   * ```
   */
  async delete(context: unknown, imageId: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    checkId(imageId);
    try {
      const res = await this.#send(context, { method: 'DELETE', path: `/v2/images/${imageId}`, operation: 'delete', imageId, retries: this.#retries, signal: options.signal });
      await res.response.body?.cancel().catch(() => {});
      res.release();
    } catch (error) {
      if (error instanceof ImageServiceError && error.code === 'IMAGE_NOT_FOUND') return;
      throw error;
    }
  }

  /**
   * nova's snapshot upload for a direct snapshot: makes the image record
   * (unless `imageId` names one), then adds the snapshot's `rbd://` location
   * (Glance then serves the RBD snapshot; no byte is copied). When Glance
   * will not take a location (it hides locations: `show_multiple_locations`
   * off answers 403) and `upload` is given, the bytes are uploaded instead.
   * A record this call created is deleted when it fails.
   *
   * @example
   * ```ts
   * const url = await disk.directSnapshot(context, 'snap', 'raw', imageId, baseImageId);
   * await glance.registerSnapshot(context, { imageId, diskFormat: 'raw', location: url });
   * ```
   */
  async registerSnapshot(context: unknown, options: RegisterSnapshotOptions): Promise<RegisteredSnapshot> {
    if (options === null || typeof options !== 'object') throw invalidArgument('an options object', 'options', options);
    if (options.location === undefined && options.upload === undefined) throw invalidArgument('a location or an upload', 'options', options);
    if (options.upload !== undefined && typeof options.upload !== 'function') throw invalidArgument('a function', 'upload', options.upload);
    const { signal } = options;
    const created = options.imageId === undefined;
    const imageId =
      options.imageId ??
      (
        await this.create(
          context,
          {
            ...(options.properties ?? {}),
            ...(options.name !== undefined ? { name: options.name } : {}),
            disk_format: options.diskFormat,
            container_format: options.containerFormat ?? 'bare',
          },
          signal ? { signal } : {},
        )
      ).id;
    checkId(imageId);
    try {
      let via: RegisteredSnapshot['via'] = 'upload';
      if (options.location !== undefined) {
        try {
          await this.#addLocation(context, imageId, options.location, signal);
          via = 'location';
        } catch (error) {
          const refused = error instanceof ImageServiceError && (error.status === 403 || error.status === 400);
          if (!refused || options.upload === undefined) throw error;
        }
      }
      if (via === 'upload') await this.#upload(context, imageId, await options.upload!(), signal);
      return { image: await this.get(context, imageId, { includeLocations: true, ...(signal ? { signal } : {}) }), via };
    } catch (error) {
      if (created) await this.delete(context, imageId).catch(() => {});
      throw error;
    }
  }

  async #addLocation(context: unknown, imageId: string, url: string, signal: AbortSignal | undefined): Promise<void> {
    const res = await this.#send(context, {
      method: 'PATCH',
      path: `/v2/images/${imageId}`,
      operation: 'registerSnapshot',
      imageId,
      retries: 0,
      signal,
      headers: { 'Content-Type': JSON_PATCH },
      body: JSON.stringify([{ op: 'add', path: '/locations/-', value: { url, metadata: {} } }]),
    });
    await readJson(res, 'registerSnapshot', imageId, signal);
  }

  async #upload(context: unknown, imageId: string, data: AsyncIterable<Uint8Array>, signal: AbortSignal | undefined): Promise<void> {
    const res = await this.#send(context, {
      method: 'PUT',
      path: `/v2/images/${imageId}/file`,
      operation: 'upload',
      imageId,
      retries: 0,
      signal,
      headers: { 'Content-Type': 'application/octet-stream' },
      body: data,
      timeoutMs: 0, // the answer comes after the last byte: no fixed bound fits
    });
    await res.response.body?.cancel().catch(() => {});
    res.release();
  }

  #send(
    context: unknown,
    r: {
      method: HttpRequest['method'];
      path: string;
      operation: string;
      imageId?: string;
      retries: number;
      signal: AbortSignal | undefined;
      headers?: Record<string, string>;
      body?: HttpRequest['body'];
      timeoutMs?: number;
    },
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { Accept: 'application/json', ...r.headers };
    const token = contextField(context, 'authToken', 'auth_token') ?? this.#token;
    if (token !== undefined) headers['X-Auth-Token'] = token;
    const requestId = contextField(context, 'globalRequestId', 'global_request_id');
    if (requestId !== undefined) headers['X-OpenStack-Request-ID'] = requestId;
    return send({
      method: r.method,
      url: `${this.#endpoint}${r.path}`,
      headers,
      ...(r.body !== undefined ? { body: r.body } : {}),
      operation: r.operation,
      ...(r.imageId !== undefined ? { imageId: r.imageId } : {}),
      retries: r.retries,
      retryDelayMs: this.#retryDelayMs,
      timeoutMs: r.timeoutMs ?? this.#timeoutMs,
      signal: r.signal,
    });
  }

  #toRecord(body: unknown, imageId: string | undefined, includeLocations: boolean): ImageRecord {
    if (body === null || typeof body !== 'object' || typeof (body as { id?: unknown }).id !== 'string') {
      throw imageServiceError('IMAGE_SERVICE_FAILED', `the image service's record of ${imageId ?? 'a new image'} has no id`, { ...(imageId ? { imageId } : {}) }, { operation: 'get' });
    }
    const raw = body as Record<string, unknown>;
    const record = { ...raw } as ImageRecord;
    const stores = typeof raw.stores === 'string' ? raw.stores.split(',').map((s) => s.trim()).filter(Boolean) : Array.isArray(raw.stores) ? (raw.stores as string[]) : [];
    if (raw.stores !== undefined) record.stores = stores;
    if (!includeLocations) {
      delete record.locations;
      return record;
    }
    const locations: ImageRecordLocation[] = Array.isArray(raw.locations)
      ? (raw.locations as unknown[])
          .filter((l): l is { url: string; metadata?: unknown } => l !== null && typeof l === 'object' && typeof (l as { url?: unknown }).url === 'string')
          .map((l) => ({ url: l.url, metadata: l.metadata !== null && typeof l.metadata === 'object' ? { ...(l.metadata as Record<string, unknown>) } : {} }))
      : [];
    // nova's _get_locations: Glance behind Ceph shows `direct_url` and hides `locations`.
    const direct = typeof raw.direct_url === 'string' ? raw.direct_url : undefined;
    if (direct !== undefined && !locations.some((l) => l.url === direct)) {
      // With one store, that is where the direct URL points.
      locations.unshift({ url: direct, metadata: stores.length === 1 ? { store: stores[0] } : {} });
    }
    record.locations = this.#preferred(locations);
    return record;
  }

  // This cluster's copy first (cloneable), then preferred stores, else as given.
  #preferred(locations: ImageRecordLocation[]): ImageRecordLocation[] {
    const rank = (l: ImageRecordLocation): number => {
      if (this.#cephFsid !== undefined && l.url.startsWith(`rbd://${encodeURIComponent(this.#cephFsid)}/`)) return 0;
      const store = l.metadata?.store;
      const i = typeof store === 'string' ? this.#preferredStores.indexOf(store) : -1;
      return i < 0 ? this.#preferredStores.length + 1 : i + 1;
    };
    return locations
      .map((l, i) => ({ l, i, r: rank(l) }))
      .sort((a, b) => a.r - b.r || a.i - b.i)
      .map(({ l }) => l);
  }
}

async function readJson(res: HttpResponse, operation: string, imageId: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
  try {
    return await res.response.json();
  } catch (cause) {
    if (signal?.aborted) throw abortError(operation, { cause: signal.reason });
    const code = res.timedOut() ? 'IMAGE_SERVICE_TIMEOUT' : 'IMAGE_SERVICE_FAILED';
    throw imageServiceError(code, `${operation}: unreadable answer from the image service: ${messageOf(cause)}`, { status: res.response.status, requestId: res.requestId, ...(imageId ? { imageId } : {}) }, { operation, cause });
  } finally {
    res.release();
  }
}

async function* streamBody(res: HttpResponse, idleMs: number, imageId: string, signal: AbortSignal | undefined): AsyncGenerator<Uint8Array> {
  const reader = res.response.body!.getReader();
  let stalled = false;
  let timer: NodeJS.Timeout | undefined;
  const onAbort = (): void => res.abort(signal?.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      if (idleMs > 0) {
        timer = setTimeout(() => {
          stalled = true;
          res.abort(new Error('stalled'));
        }, idleMs);
      }
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (cause) {
        if (signal?.aborted) throw abortError('download', { cause: signal.reason });
        const http = { status: res.response.status, requestId: res.requestId, imageId };
        if (stalled) throw imageServiceError('IMAGE_SERVICE_TIMEOUT', `download of image ${imageId} stalled for ${idleMs} ms`, http, { operation: 'download', cause });
        throw imageServiceError('IMAGE_SERVICE_UNAVAILABLE', `download of image ${imageId} was interrupted: ${messageOf(cause)}`, http, { operation: 'download', cause });
      } finally {
        clearTimeout(timer);
      }
      if (chunk.done) return;
      yield chunk.value;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await reader.cancel().catch(() => {});
  }
}

function contextField(context: unknown, camel: string, snake: string): string | undefined {
  if (context === null || typeof context !== 'object') return undefined;
  const c = context as Record<string, unknown>;
  const v = c[camel] ?? c[snake];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function checkId(imageId: unknown): asserts imageId is string {
  if (typeof imageId !== 'string' || !IMAGE_ID.test(imageId)) throw invalidArgument('an image id', 'imageId', imageId);
}

function count(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalidArgument('a non-negative integer', name, value);
  return value;
}
