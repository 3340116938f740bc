/**
 * nova's `[compute] vmdk_allowed_types` policy over what the native inspector
 * read: the VMDK create type qemu would report, and the `createType` line a
 * sparse file's embedded descriptor claims (the two can differ: qemu decides
 * a sparse file's type from its header, nova's inspector from the text).
 */
import { invalidArgument } from '../errors.js';

/**
 * nova's default `vmdk_allowed_types`: the single-file VMDK types, which
 * cannot point at other files.
 *
 * @example
 * ```ts
 * await inspect(path, { vmdkAllowedTypes: [...DEFAULT_VMDK_ALLOWED_TYPES, 'monolithicFlat'] });
 * ```
 */
export const DEFAULT_VMDK_ALLOWED_TYPES: readonly string[] = Object.freeze(['streamOptimized', 'monolithicSparse']);

/** Validates the option; returns the list to apply. */
export function checkVmdkAllowedTypes(value: unknown): readonly string[] {
  if (value === undefined) return DEFAULT_VMDK_ALLOWED_TYPES;
  if (!Array.isArray(value) || !value.every((t) => typeof t === 'string')) {
    throw invalidArgument('an array of VMDK create types', 'vmdkAllowedTypes', value);
  }
  return value as readonly string[];
}

/** The unsafe reasons the allow-list gives a (vmdk) image; none for other formats. */
export function vmdkTypeReasons(
  info: { format: string; formatSpecific: { data: Record<string, unknown> } },
  allowed: readonly string[],
): string[] {
  if (info.format !== 'vmdk') return [];
  if (allowed.length === 0) return ['vmdk images are not allowed (vmdkAllowedTypes is empty)'];
  const { createType, descriptorCreateType } = info.formatSpecific.data;
  const reasons: string[] = [];
  if (typeof createType !== 'string' || !allowed.includes(createType)) {
    reasons.push(`vmdk create type '${String(createType ?? 'unknown')}' is not allowed (allowed: ${allowed.join(', ')})`);
  }
  if (typeof descriptorCreateType === 'string' && descriptorCreateType !== createType && !allowed.includes(descriptorCreateType)) {
    reasons.push(`vmdk descriptor claims create type '${descriptorCreateType}', which is not allowed (allowed: ${allowed.join(', ')})`);
  }
  return reasons;
}
