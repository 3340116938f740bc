/**
 * One HTTP exchange with the image service over Node's own fetch (undici):
 * a timeout, the caller's AbortSignal, retries of idempotent requests on
 * outages, and every failure mapped to a typed {@link ImageServiceError}
 * carrying the status and the service's request id.
 */
import { setTimeout as sleep } from 'node:timers/promises';

import { abortError } from '../abort.js';
import { ImageServiceError, imageServiceError } from '../errors.js';
import { messageOf } from '../fsutil/errno.js';

/** How one request is made. */
export interface HttpRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  headers: Record<string, string>;
  body?: string | AsyncIterable<Uint8Array>;
  /** The library operation, for errors (`get`, `download`...). */
  operation: string;
  imageId?: string;
  /** Retry on 5xx, lost connections and timeouts (idempotent requests only). */
  retries: number;
  retryDelayMs: number;
  /** Per attempt, until {@link HttpResponse.release} (0: none). */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** The headers-complete response; its body still to read (or to cancel). */
export interface HttpResponse {
  response: Response;
  requestId: string | undefined;
  /** Aborts the exchange, e.g. when the body stops flowing. */
  abort(reason: unknown): void;
  /** True once the request's timeout fired (a body read then fails). */
  timedOut(): boolean;
  /** Stops the timeout and lets go of the caller's signal; call once the body is read or abandoned. */
  release(): void;
}

const REQUEST_ID = 'x-openstack-request-id';

/** The code of an HTTP status the caller did not expect. */
export function codeOfStatus(status: number): Parameters<typeof imageServiceError>[0] {
  if (status === 401) return 'IMAGE_SERVICE_UNAUTHORIZED';
  if (status === 403) return 'IMAGE_SERVICE_FORBIDDEN';
  if (status === 404) return 'IMAGE_NOT_FOUND';
  if (status === 409) return 'IMAGE_SERVICE_CONFLICT';
  if (status >= 500) return 'IMAGE_SERVICE_UNAVAILABLE';
  return 'IMAGE_SERVICE_FAILED';
}

/**
 * Sends `request`; resolves once a 2xx response's headers arrived. Other
 * statuses reject with their {@link ImageServiceError} (after retries when
 * they are 5xx and the request is retryable).
 */
export async function send(request: HttpRequest): Promise<HttpResponse> {
  const { operation } = request;
  for (let attempt = 0; ; attempt++) {
    if (request.signal?.aborted) throw abortError(operation, { cause: request.signal.reason });
    let error: ImageServiceError;
    try {
      return await attemptOnce(request);
    } catch (e) {
      if (!(e instanceof ImageServiceError)) throw e;
      error = e;
    }
    const retryable = error.code === 'IMAGE_SERVICE_UNAVAILABLE' || error.code === 'IMAGE_SERVICE_TIMEOUT';
    if (!retryable || attempt >= request.retries) throw error;
    try {
      await sleep(request.retryDelayMs * 2 ** attempt, undefined, request.signal ? { signal: request.signal } : {});
    } catch {
      throw abortError(operation, { cause: request.signal?.reason });
    }
  }
}

async function attemptOnce(request: HttpRequest): Promise<HttpResponse> {
  const { operation, imageId } = request;
  const controller = new AbortController();
  const onAbort = (): void => controller.abort(request.signal?.reason);
  request.signal?.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer =
    request.timeoutMs > 0
      ? setTimeout(() => {
          timedOut = true;
          controller.abort(new Error('timeout'));
        }, request.timeoutMs)
      : undefined;
  const done = (): void => {
    clearTimeout(timer);
    request.signal?.removeEventListener('abort', onAbort);
  };
  let response: Response;
  try {
    const init: RequestInit & { duplex?: 'half' } = { method: request.method, headers: request.headers, signal: controller.signal };
    if (request.body !== undefined) {
      init.body = request.body as RequestInit['body'];
      if (typeof request.body !== 'string') init.duplex = 'half';
    }
    response = await fetch(request.url, init);
  } catch (cause) {
    done();
    if (request.signal?.aborted) throw abortError(operation, { cause: request.signal.reason });
    if (timedOut) {
      throw imageServiceError('IMAGE_SERVICE_TIMEOUT', `${operation}: the image service did not answer ${request.method} ${request.url} within ${request.timeoutMs} ms`, { imageId }, { operation, cause });
    }
    throw imageServiceError('IMAGE_SERVICE_UNAVAILABLE', `${operation}: cannot reach the image service at ${request.url}: ${messageOf(causeOf(cause))}`, { imageId }, { operation, cause });
  }
  const requestId = response.headers.get(REQUEST_ID) ?? undefined;
  if (response.ok) {
    return {
      response,
      requestId,
      abort: (reason) => controller.abort(reason),
      timedOut: () => timedOut,
      release: done,
    };
  }
  const text = await response.text().catch(() => '');
  done();
  throw imageServiceError(
    codeOfStatus(response.status),
    `${operation}: the image service answered ${request.method} ${request.url} with ${response.status} ${response.statusText}${describeBody(text)}${requestId ? ` (request ${requestId})` : ''}`,
    { status: response.status, requestId, imageId },
    { operation },
  );
}

// undici's "fetch failed" hides the reason (ECONNREFUSED...) in `cause`.
function causeOf(error: unknown): unknown {
  return error instanceof Error && error.cause !== undefined ? error.cause : error;
}

// Glance's error bodies are short HTML or JSON; keep the gist, bounded.
function describeBody(text: string): string {
  const gist = text
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
  return gist ? `: ${gist}` : '';
}
