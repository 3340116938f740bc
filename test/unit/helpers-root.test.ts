import { afterEach, describe, expect, it, vi } from 'vitest';

import { requireRoot } from './helpers/system.js';

describe('requireRoot', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('fails (never skips) with the reason when not root', () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1000);
    expect(() => requireRoot('loop tests')).toThrow(/loop tests needs root .*fail rather than skip/);
  });
});
