/**
 * Which digest an image's bytes must have: Glance's multihash
 * (`os_hash_algo`/`os_hash_value`, sha512 by default), else its legacy md5
 * `checksum`, else none (images registered by location have neither).
 */
import { createHash, getHashes, type Hash } from 'node:crypto';

import type { ImageRecord } from './ImageService.js';

/** The digest a download is checked against. */
export interface ExpectedHash {
  /** Node's name of the algorithm, e.g. `sha512` or `md5`. */
  algorithm: string;
  /** Lower-case hex. */
  value: string;
  /** Which field of the record it came from. */
  field: 'os_hash_value' | 'checksum';
}

const HEX = /^[0-9a-f]+$/i;

/** The strongest digest the record carries that this Node can compute. */
export function expectedHash(record: Pick<ImageRecord, 'os_hash_algo' | 'os_hash_value' | 'checksum'>): ExpectedHash | undefined {
  const algo = record.os_hash_algo;
  const value = record.os_hash_value;
  if (typeof algo === 'string' && typeof value === 'string' && HEX.test(value) && getHashes().includes(algo.toLowerCase())) {
    return { algorithm: algo.toLowerCase(), value: value.toLowerCase(), field: 'os_hash_value' };
  }
  if (typeof record.checksum === 'string' && /^[0-9a-f]{32}$/i.test(record.checksum)) {
    return { algorithm: 'md5', value: record.checksum.toLowerCase(), field: 'checksum' };
  }
  return undefined;
}

/** A running hash for `expected`, or undefined when there is nothing to check. */
export function hasherFor(expected: ExpectedHash | undefined): Hash | undefined {
  return expected ? createHash(expected.algorithm) : undefined;
}
