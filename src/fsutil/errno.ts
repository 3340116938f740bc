/**
 * Node system errors (`ENOENT`, `EACCES`...) reduced to the fields an
 * {@link ImageBackendError} carries, so every fs failure reports the same way.
 */
import type { ErrorDetails } from '../errors.js';

interface SystemError extends Error {
  code?: string;
  errno?: number;
  syscall?: string;
  path?: string;
}

/** The errno name (`ENOENT`) of a Node system error, or undefined. */
export function errnoName(error: unknown): string | undefined {
  const code = (error as SystemError | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/**
 * The details of a failed fs call: its path, errno, errno name and syscall,
 * with the error itself as the cause.
 *
 * @example
 * ```ts
 * catch (e) { throw new CacheError(`mkdir: ${message(e)}`, systemErrorDetails(e, 'fetchOnce', dir)); }
 * ```
 */
export function systemErrorDetails(error: unknown, operation: string, path?: string): ErrorDetails {
  const e = error as SystemError | undefined;
  const details: ErrorDetails = { operation, cause: error };
  const where = typeof e?.path === 'string' ? e.path : path;
  if (where !== undefined) details.path = where;
  if (typeof e?.errno === 'number') details.errno = e.errno;
  const name = errnoName(error);
  if (name !== undefined) details.errnoName = name;
  if (typeof e?.syscall === 'string') details.syscall = e.syscall;
  return details;
}

/** The message of an error, or the thing itself as text. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
