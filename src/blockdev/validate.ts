/** Argument checks at the public surface, worded like the native layer's. */
import { invalidArgument } from '../errors.js';

export function checkPath(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string' || value === '') throw invalidArgument('a non-empty string', name, value);
}

export function checkByteCount(name: string, value: unknown, optional = true): void {
  if (value === undefined && optional) return;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument('a non-negative integer', name, value);
  }
}

export function checkFunction(name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') throw invalidArgument('a function', name, value);
}
