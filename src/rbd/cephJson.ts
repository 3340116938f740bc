// Ceph's JSON (mon command output) with its integers kept exact. Byte counts
// in `ceph df` are 64-bit and a cluster past 8 PiB has them above 2^53,
// where JSON.parse rounds. Node 20 has no JSON.parse source access, so the
// text is rewritten first: every integer literal becomes a string "i<digits>"
// and every other string value gets an "s" in front, so the reviver can tell
// them apart with no chance of collision; keys are left alone.

const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
const WHITESPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * `JSON.parse` of `text` where every integer is a bigint (other numbers stay
 * numbers). Throws `SyntaxError` for text that is not JSON, as JSON.parse does.
 *
 * @example
 * ```ts
 * parseJsonExact('{"total_bytes": 18014398509481985, "percent_used": 0.5}')
 * // { total_bytes: 18014398509481985n, percent_used: 0.5 }
 * ```
 */
export function parseJsonExact(text: string): unknown {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      let end = i + 1;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      let next = end + 1;
      while (next < text.length && WHITESPACE.has(text[next]!)) next++;
      parts.push(text[next] === ':' ? '"' : '"s', text.slice(i + 1, end + 1));
      i = end + 1;
      continue;
    }
    if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text);
      if (match) {
        parts.push(match[1] === undefined && match[2] === undefined ? `"i${match[0]}"` : match[0]);
        i += match[0].length;
        continue;
      }
    }
    parts.push(c);
    i++;
  }
  return JSON.parse(parts.join(''), (_key, value: unknown) => {
    if (typeof value !== 'string') return value;
    return value.startsWith('i') ? BigInt(value.slice(1)) : value.slice(1);
  });
}
