import { ImageUnacceptableError } from '../errors.js';
import { rbdNameProblem } from '../names.js';

/** The parts of an `rbd://fsid/pool/image/snapshot` location. */
export interface RbdLocation {
  /** The Ceph cluster's fsid; the URL is cloneable only on the cluster with this fsid. */
  fsid: string;
  /** The pool holding the image (Glance's `rbd_store_pool`, e.g. `images`). */
  pool: string;
  /** The RBD image's name (Glance stores it under the image's id). */
  image: string;
  /** The snapshot of the image to clone from (Glance names it `snap`). */
  snapshot: string;
}

const PREFIX = 'rbd://';

/**
 * Parses a Glance RBD location (nova's `RBDDriver.parse_url`): four
 * percent-decoded, non-empty parts after `rbd://`; the pool, image and
 * snapshot must be acceptable RBD names (see `checkRbdName`: no NUL or other
 * control character, no `/` or `@`, no leading `-`).
 *
 * @throws {@link index!ImageUnacceptableError} for anything else.
 * @example
 * ```ts
 * parseRbdUrl('rbd://fsid/images/abc/snap') // { fsid: 'fsid', pool: 'images', image: 'abc', snapshot: 'snap' }
 * ```
 */
export function parseRbdUrl(url: string): RbdLocation {
  const reject = (reason: string) =>
    new ImageUnacceptableError(`Image ${url} is unacceptable: ${reason}`, {
      operation: 'parseUrl',
    });
  if (typeof url !== 'string' || !url.startsWith(PREFIX)) throw reject('not stored in rbd');
  let pieces: string[];
  try {
    pieces = url.slice(PREFIX.length).split('/').map(decodeURIComponent);
  } catch {
    throw reject('malformed percent-encoding');
  }
  if (pieces.includes('')) throw reject('blank components');
  if (pieces.length !== 4) throw reject('not an rbd snapshot');
  const [fsid, pool, image, snapshot] = pieces as [string, string, string, string];
  // A decoded %00 would truncate the name in librbd (victimimg%00x clones
  // victimimg); %2F or %40 would name something the rbd CLI cannot address.
  for (const [kind, name] of [['pool', pool], ['image', image], ['snapshot', snapshot]] as const) {
    const problem = rbdNameProblem(name);
    if (problem !== undefined) throw reject(`the ${kind} name ${problem}`);
  }
  return { fsid, pool, image, snapshot };
}
