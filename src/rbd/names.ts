/**
 * What the RBD layer accepts as a pool, image or snapshot name, checked
 * before anything reaches librbd (the native layer re-checks the same rules).
 *
 * Why these rules: librbd takes names as C strings, so a NUL byte silently
 * truncates a name (`victim\0junk` names `victim`); the `rbd` CLI parses
 * `pool/image@snapshot` and options, so a name holding `/` or `@`, or starting
 * with `-`, makes an image the CLI (and an operator) cannot address; control
 * characters (newlines) break every log and listing. `.` and `..` are refused
 * so a name can never read as a path step. Ceph keeps an image's name in
 * RADOS object names (`rbd_id.<name>`) that `osd_max_object_name_len` (2048)
 * bounds; {@link RBD_NAME_MAX_BYTES} stays well below that and leaves room for
 * the library's own staging suffix.
 */
import { invalidArgument, type InvalidArgumentError } from '../errors.js';

/** Longest accepted pool, image or snapshot name, in UTF-8 bytes. */
export const RBD_NAME_MAX_BYTES = 1000;

/** Which kind of RBD name is being checked; it names the argument in errors. */
export type RbdNameKind = 'pool' | 'image' | 'snapshot';

// C0 controls and DEL: NUL truncates in C, newlines split logs and listings.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Why `name` is not an acceptable RBD name, or `undefined` when it is.
 *
 * @example
 * ```ts
 * rbdNameProblem('a/b') // "must not contain '/' or '@'"
 * rbdNameProblem('uuid_disk') // undefined
 * ```
 */
export function rbdNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return 'must be a string';
  if (name === '') return 'must not be empty';
  if (CONTROL.test(name)) return 'must not contain NUL, newlines or other control characters';
  if (name.includes('/') || name.includes('@')) return "must not contain '/' or '@'";
  if (name.startsWith('-')) return "must not start with '-'";
  if (name === '.' || name === '..') return "must not be '.' or '..'";
  if (Buffer.byteLength(name, 'utf8') > RBD_NAME_MAX_BYTES) return `must be at most ${RBD_NAME_MAX_BYTES} bytes`;
  return undefined;
}

/**
 * Returns `name` when it is an acceptable RBD pool, image or snapshot name;
 * throws {@link InvalidArgumentError} (`INVALID_ARGUMENT`) otherwise.
 *
 * @example
 * ```ts
 * checkRbdName('image', 'uuid_disk'); // 'uuid_disk'
 * checkRbdName('image', 'victim\0junk'); // throws INVALID_ARGUMENT
 * ```
 */
export function checkRbdName(kind: RbdNameKind, name: unknown): string {
  const problem = rbdNameProblem(name);
  if (problem !== undefined) throw rbdNameError(kind, name, problem);
  return name as string;
}

/** The error {@link checkRbdName} throws. */
export function rbdNameError(kind: RbdNameKind, name: unknown, problem: string): InvalidArgumentError {
  return invalidArgument(`a valid RBD ${kind} name (${problem})`, kind, name);
}
