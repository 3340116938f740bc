/**
 * Reading lvm2's JSON output (`report/output_format=json` with the command log on):
 * the report rows and the log entries, and turning a failed command into a
 * typed error.
 */
import {
  ImageBackendError,
  LvmError,
  LvmExistsError,
  LvmNotFoundError,
  LvmNoSpaceError,
  type ErrorDetails,
} from '../errors.js';
import type { LvmCommandResult } from './LvmRunner.js';

/** One entry of lvm2's command log. */
export interface LvmLogEntry {
  type: string;
  message: string;
  objectType: string;
  objectName: string;
  objectGroup: string;
}

export interface LvmJson {
  /** Rows of each report, keyed by report name (`lv`, `vg`, `pv`...). */
  reports: Record<string, Record<string, string>[]>;
  log: LvmLogEntry[];
}

/**
 * lvm2 2.03 writes a trailing comma after the last log entry; JSON.parse
 * refuses that. Drops commas that precede `]` or `}` outside strings.
 */
function dropTrailingCommas(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    if (c === ',') {
      const next = /\S/.exec(text.slice(i + 1));
      if (next && (next[0] === ']' || next[0] === '}')) continue;
    }
    out += c;
  }
  return out;
}

/** Parses lvm2's JSON output; throws an `LVM_FAILED` error when it is not JSON. */
export function parseLvmJson(result: LvmCommandResult): LvmJson {
  const start = result.stdout.indexOf('{');
  if (start < 0) return { reports: {}, log: [] };
  let doc: unknown;
  try {
    doc = JSON.parse(dropTrailingCommas(result.stdout.slice(start)));
  } catch (error) {
    throw new LvmError(`lvm ${result.command[0]} printed a report that is not JSON: ${(error as Error).message}`, {
      operation: `lvm ${result.command[0]}`,
      cause: error,
    });
  }
  const out: LvmJson = { reports: {}, log: [] };
  const root = doc as { report?: unknown; log?: unknown };
  for (const report of Array.isArray(root.report) ? root.report : []) {
    for (const [name, rows] of Object.entries(report as Record<string, unknown>)) {
      if (Array.isArray(rows)) (out.reports[name] ??= []).push(...(rows as Record<string, string>[]));
    }
  }
  for (const entry of Array.isArray(root.log) ? (root.log as Record<string, string>[]) : []) {
    out.log.push({
      type: entry.log_type ?? '',
      message: entry.log_message ?? '',
      objectType: entry.log_object_type ?? '',
      objectName: entry.log_object_name ?? '',
      objectGroup: entry.log_object_group ?? '',
    });
  }
  return out;
}

/** The error messages of a command: its log's errors, else its stderr. */
export function errorMessages(result: LvmCommandResult, json?: LvmJson): string[] {
  let parsed = json;
  if (!parsed) {
    try {
      parsed = parseLvmJson(result);
    } catch {
      parsed = { reports: {}, log: [] };
    }
  }
  const fromLog = parsed.log.filter((e) => e.type === 'error' || e.type === 'fatal').map((e) => e.message);
  if (fromLog.length > 0) return fromLog;
  return result.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('WARNING: Activation disabled'));
}

/**
 * The typed error for a command that ended with a non-zero status:
 * `LVM_NOT_FOUND`, `LVM_EXISTS`, `LVM_NO_SPACE` when lvm2's messages say so,
 * `LVM_FAILED` otherwise. `process.stderr` holds lvm2's messages.
 */
export function commandError(result: LvmCommandResult, details: ErrorDetails = {}, json?: LvmJson): ImageBackendError {
  const messages = errorMessages(result, json);
  const text = messages.join('; ') || `exit status ${result.status}`;
  const operation = details.operation ?? `lvm ${result.command[0]}`;
  const all: ErrorDetails = {
    ...details,
    operation,
    process: {
      command: result.command,
      exitCode: result.status,
      signal: null,
      stderr: messages.join('\n'),
      resourceLimited: false,
      timedOut: false,
    },
  };
  const message = `${operation} failed: ${text}`;
  // Only lvm2's own words for a missing VG/LV/PV: "Module dm-snapshot not
  // found" (a kernel without the target) is a failure, not a missing object.
  if (/Volume group "[^"]*" not found|Failed to find (logical|physical) volume|Logical volume \S+ not found/i.test(text)) {
    return new LvmNotFoundError(message, all);
  }
  if (/already exists/i.test(text)) return new LvmExistsError(message, all);
  if (/Insufficient free space|insufficient.*extents/i.test(text)) return new LvmNoSpaceError(message, all);
  return new LvmError(message, all);
}

/** A report field as a byte count (`--units b --nosuffix`); throws `LVM_FAILED` if it is not one. */
export function bytesField(row: Record<string, string>, field: string, command: readonly string[]): number {
  const value = row[field];
  if (value === undefined || !/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new LvmError(`lvm ${command[0]} reported ${field}=${String(value)}, not a byte count`, {
      operation: `lvm ${command[0]}`,
    });
  }
  return Number(value);
}
