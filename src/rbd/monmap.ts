import { RbdError } from '../errors.js';

/** One monitor address as libvirt's `<host name=... port=...>` wants it. */
export interface MonitorAddress {
  /** IPv4 address, or IPv6 address without brackets. */
  host: string;
  /** TCP port of that address (commonly 6789 for v1, 3300 for v2). */
  port: number;
  /** Messenger protocol of this address: `v1` (legacy) or `v2`. */
  protocol: 'v1' | 'v2';
}

interface MonMapEntry {
  name?: string;
  addr?: string;
  public_addr?: string;
  public_addrs?: { addrvec?: Array<{ type?: string; addr?: string }> };
}

/**
 * Splits `host:port[/nonce]` where host may be a bracketed IPv6 address.
 *
 * @example
 * ```ts
 * splitAddr('[::1]:6789/0') // { host: '::1', port: 6789 }
 * ```
 */
export function splitAddr(addr: string):
  | {
      /** The host, brackets of an IPv6 address removed. */
      host: string;
      /** The port, 1 to 65535. */
      port: number;
    }
  | undefined {
  const slash = addr.lastIndexOf('/');
  const hostPort = slash >= 0 ? addr.slice(0, slash) : addr;
  const colon = hostPort.lastIndexOf(':');
  if (colon <= 0) return undefined;
  const host = hostPort.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(hostPort.slice(colon + 1));
  if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  return { host, port };
}

/**
 * Reads the monitors' addresses out of `mon dump --format json`: the legacy
 * (v1) address of each monitor when it has one, as nova used, else its v2
 * address. Monitors with no usable address are left out. An answer that is
 * not such JSON is an {@link RbdError} (`RBD_ERROR`, the parse error as its cause).
 *
 * @example
 * ```ts
 * const { output } = await cluster.monCommand({ prefix: 'mon dump', format: 'json' });
 * parseMonMap(output); // [{ host: '192.0.2.10', port: 6789 }, ...]
 * ```
 */
export function parseMonMap(json: string): MonitorAddress[] {
  // Older releases prefix the JSON with "dumped monmap epoch N".
  const start = json.indexOf('{');
  let map: unknown;
  try {
    map = JSON.parse(start >= 0 ? json.slice(start) : json);
  } catch (error) {
    throw new RbdError(`mon dump answered something that is not JSON: ${(error as Error).message}`, {
      operation: 'parseMonMap',
      cause: error,
    });
  }
  const mons = (map as { mons?: unknown } | null)?.mons ?? [];
  if (!Array.isArray(mons)) {
    throw new RbdError('mon dump answered JSON without a list of monitors', { operation: 'parseMonMap' });
  }
  const result: MonitorAddress[] = [];
  for (const mon of mons as MonMapEntry[]) {
    if (typeof mon !== 'object' || mon === null) continue;
    const vec = mon.public_addrs?.addrvec ?? [];
    const v1 = vec.find((a) => a.type === 'v1');
    const v2 = vec.find((a) => a.type === 'v2');
    const pick = v1 ?? v2;
    const parsed = pick?.addr ? splitAddr(pick.addr) : mon.addr ? splitAddr(mon.addr) : undefined;
    if (!parsed) continue;
    result.push({ ...parsed, protocol: pick?.type === 'v2' ? 'v2' : 'v1' });
  }
  return result;
}
