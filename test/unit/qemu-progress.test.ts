import { describe, expect, it } from 'vitest';

import { ProgressParser } from '../../src/qemu/progress.js';

describe('ProgressParser', () => {
  it('reads \\r-separated percentages split across chunks, once each and increasing', () => {
    const seen: number[] = [];
    const parser = new ProgressParser((p) => seen.push(p));
    parser.push('    (0.00/100%)\r    (12.');
    parser.push('34/100%)\r    (12.34/100%)\r    (50.00/100%)\n    (10.00/100%)\r');
    parser.push('    (100.00/100%)');
    expect(seen).toEqual([0, 12.34, 50]);
    parser.end();
    expect(seen).toEqual([0, 12.34, 50, 100]);
  });

  it('ignores lines that are not progress', () => {
    const seen: number[] = [];
    const parser = new ProgressParser((p) => seen.push(p));
    parser.push('qemu-img: warning\n(oops/100%)\r');
    parser.end();
    expect(seen).toEqual([]);
  });
});
