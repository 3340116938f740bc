/**
 * The RBD classes' way into {@link callNative}: the `rbd` errno table
 * (ENOENT is RBD_NOT_FOUND, EBUSY and ENOTEMPTY are RBD_BUSY, ...) lives in
 * src/fromNative.ts with the other domains'.
 */
import { callNative } from '../fromNative.js';

/** {@link callNative} with the `rbd` table: the typed error carries the JavaScript caller's stack. */
export function rbdCall<T>(operation: string, call: () => Promise<T>): Promise<T> {
  return callNative({ domain: 'rbd', operation }, call);
}
