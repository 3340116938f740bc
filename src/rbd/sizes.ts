import { NotSupportedError, invalidArgument, type ErrorDetails } from '../errors.js';

const UINT64_LIMIT = 2n ** 64n;

/**
 * An RBD byte count as the caller gave it, checked: a bigint from 0 to
 * 2^64 - 1 (librbd's uint64), or a number that is a non-negative safe
 * integer. A number past 2^53 - 1 has already been rounded, so it is refused
 * rather than passed on as some other size.
 *
 * @throws {@link InvalidArgumentError} (`INVALID_ARGUMENT`) otherwise.
 */
export function checkRbdSize(value: unknown, argument: string): number | bigint {
  if (typeof value === 'bigint' && value >= 0n && value < UINT64_LIMIT) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value;
  throw invalidArgument('a non-negative safe integer or a bigint below 2^64', argument, value);
}

/**
 * An RBD size as a disk store's size (a number, as the file and qcow2 stores
 * report theirs): exact up to 2^53 - 1 bytes (8 PiB), refused above it with
 * {@link NotSupportedError} (`NOT_SUPPORTED`) naming the size, never rounded.
 */
export function toDiskSize(bytes: bigint, details: ErrorDetails & { operation: string }): number {
  if (bytes <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(bytes);
  throw new NotSupportedError(
    `${details.operation}: the RBD image is ${bytes} bytes, past the ${Number.MAX_SAFE_INTEGER} bytes (2^53 - 1) a disk size can be`,
    details,
  );
}
