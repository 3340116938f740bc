/** Number formatting shared by the CLI commands. */

/**
 * Bytes as `1.5 GiB`, `512 MiB`, `12 B`.
 *
 * @example
 * ```ts
 * humanBytes(1536 * 2 ** 20); // '1.5 GiB'
 * ```
 */
export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${Number(value.toFixed(2))} ${units[unit]}`;
}

/**
 * A size as the CLI accepts it: bytes, or a number with K, M, G or T (powers of 1024, optional `iB`/`B`).
 *
 * @example
 * ```ts
 * parseSize('1G'); // 1073741824
 * parseSize('512MiB'); // 536870912
 * ```
 */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m) return undefined;
  const power = ['', 'K', 'M', 'G', 'T'].indexOf((m[2] ?? '').toUpperCase());
  const bytes = Math.round(Number(m[1]) * 1024 ** power);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
