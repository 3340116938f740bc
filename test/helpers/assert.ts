import { open } from 'node:fs/promises';
import { expect } from 'vitest';

import { ImageBackendError } from '../../src/errors.js';

/** The typed error a promise rejects with; fails the test if it resolves or throws something else. */
export async function rejection(promise: Promise<unknown>): Promise<ImageBackendError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageBackendError);
  return error as ImageBackendError;
}

/** Exactly `length` bytes of a file or device from `offset`. */
export async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buf, 0, length, offset);
    expect(bytesRead).toBe(length);
    return buf;
  } finally {
    await handle.close();
  }
}

export const isZero = (buf: Buffer): boolean => buf.every((b) => b === 0);
