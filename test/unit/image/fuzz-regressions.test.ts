// Every input that once made the fuzzer fail is replayed through the real
// addon: it must give a typed result or a typed IMAGE_INVALID, never a crash.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

import { ImageBackendError } from '../../../src/errors.js';
import { inspect } from '../../../src/image/inspect.js';

const dir = join(import.meta.dirname, '../../../native/image/fuzz/regressions');

describe('fuzzer regression inputs', () => {
  const files = readdirSync(dir);
  it('has some', () => expect(files.length).toBeGreaterThan(0));
  it.each(files)('%s inspects to a result or IMAGE_INVALID', async (name) => {
    const outcome = await inspect(join(dir, name)).catch((e: unknown) => e);
    if (outcome instanceof ImageBackendError) {
      expect(outcome.code).toBe('IMAGE_INVALID');
    } else {
      expect(outcome).toMatchObject({ format: expect.any(String), virtualSize: expect.any(Number) });
    }
  });
});
