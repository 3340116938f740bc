// parseJsonExact: Ceph's JSON with its integers kept exact (ceph df byte
// counts pass 2^53 on a cluster over 8 PiB). The real `ceph df` output goes
// through it in test/integration/rbd-pool-info.test.ts.
import { describe, expect, it } from 'vitest';

import { parseJsonExact } from '../../src/rbd/cephJson.js';

describe('parseJsonExact', () => {
  it('reads integers past 2^53 exactly, as bigints', () => {
    const text = '{"stats": {"total_bytes": 18446744073709551615, "total_avail_bytes": 9007199254740993}}';
    expect(JSON.parse(text).stats.total_avail_bytes).toBe(9007199254740992); // what JSON.parse makes of it
    expect(parseJsonExact(text)).toEqual({ stats: { total_bytes: 2n ** 64n - 1n, total_avail_bytes: 2n ** 53n + 1n } });
  });

  it('is JSON.parse otherwise: other numbers, strings (escapes, digits, colons), keys, literals, nesting', () => {
    const value = {
      pools: [{ name: 'vms', id: 2, stats: { percent_used: 0.0123, ratio: 1e-7, negative: -5, zero: 0 } }],
      text: ['i12', 's', 'a "quoted": 12', 'back\\slash', '\u00e9\n', '-1', ''],
      flags: [true, false, null],
      '7': { 'key "with" : colon': 'v' },
    };
    const text = JSON.stringify(value, null, 2);
    const exact = parseJsonExact(text);
    const bigints = (v: unknown): unknown =>
      typeof v === 'number' && Number.isInteger(v) && !/[.e]/i.test(String(v))
        ? BigInt(v)
        : Array.isArray(v)
          ? v.map(bigints)
          : v && typeof v === 'object'
            ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, bigints(x)]))
            : v;
    expect(exact).toEqual(bigints(JSON.parse(text)));
    expect((exact as typeof value).pools[0]!.stats.ratio).toBe(1e-7);
  });

  it('throws SyntaxError for text that is not JSON', () => {
    for (const text of ['', '{"a": }', '"unterminated', '{"a": 1', 'ceph: error']) {
      expect(() => parseJsonExact(text), text).toThrow(SyntaxError);
    }
  });
});
