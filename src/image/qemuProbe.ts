/**
 * A second opinion for a file the native inspector calls raw: `qemu-img info`
 * probing the file itself (no `-f`), so a format qemu reads and the inspector
 * does not know can never pass for raw. Runs through the qemu runner, under
 * its resource limits and timeout.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';

import { ImageBackendError } from '../errors.js';
import type { ResourceLimits } from '../qemu/limits.js';
import { runQemuImg } from '../qemu/run.js';

/** How {@link inspect}'s `qemuProbe` runs qemu-img. */
export interface QemuProbeOptions {
  /** Program to run; default `qemu-img` from PATH. */
  qemuImg?: string;
  /** Resource limits of the run; default the qemu runner's. */
  limits?: Partial<ResourceLimits>;
  /** Wall-clock limit in ms; default 30 s. */
  timeoutMs?: number;
  /** Kills qemu-img and rejects with `ABORTED`. */
  signal?: AbortSignal;
}

/**
 * Undefined when qemu also probes `path` as raw, else the unsafe reason.
 * Rejects only when qemu-img is missing or the call is aborted.
 */
export async function probeWithQemu(path: string, options: QemuProbeOptions): Promise<string | undefined> {
  // Absolute, so a ':' in the name can never read as a protocol prefix.
  const abs = resolve(path);
  // A file unchanged since qemu last answered for it keeps that answer: bases are probed on every
  // disk made from them, and a fork each time would cost more than the disk. Any write, rename or
  // link changes the inode's ctime, which no caller can set back.
  const key = await identity(abs, options.qemuImg);
  if (key === undefined) return (await askQemu(abs, options)).reason;
  const known = answers.get(key);
  if (known !== undefined) return known.reason;
  // Many disks are made from one base at once: they share the one qemu-img run in flight.
  let pending = asking.get(key);
  if (pending === undefined) {
    const asked = askQemu(abs, options);
    pending = asked;
    asking.set(key, asked);
    void asked.then(
      (reason) => {
        asking.delete(key);
        if (!reason.answered) return;
        if (answers.size >= MAX_ANSWERS) answers.delete(answers.keys().next().value as string);
        answers.set(key, reason);
      },
      () => asking.delete(key),
    );
    return (await asked).reason;
  }
  try {
    return (await pending).reason;
  } catch (error) {
    // The run joined was stopped by its own caller's signal: ask again under ours.
    if (options.signal?.aborted) throw error;
    return (await askQemu(abs, options)).reason;
  }
}

const MAX_ANSWERS = 1024;
const answers = new Map<string, { answered: boolean; reason: string | undefined }>();
const asking = new Map<string, Promise<{ answered: boolean; reason: string | undefined }>>();

async function identity(path: string, qemuImg: string | undefined): Promise<string | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return JSON.stringify([path, qemuImg ?? '', String(st.dev), String(st.ino), String(st.size), String(st.mtimeNs), String(st.ctimeNs)]);
  } catch {
    return undefined;
  }
}

/** qemu-img's verdict; `answered` when qemu-img itself answered (a failed run is not remembered). */
async function askQemu(abs: string, options: QemuProbeOptions): Promise<{ answered: boolean; reason: string | undefined }> {
  let stdout: string;
  try {
    ({ stdout } = await runQemuImg(['info', '--output=json', '--force-share', abs], {
      allowProbe: true,
      timeoutMs: options.timeoutMs ?? 30_000,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.qemuImg === undefined ? {} : { qemuImg: options.qemuImg }),
    }));
  } catch (error) {
    if (error instanceof ImageBackendError && (error.code === 'ABORTED' || error.code === 'TOOL_NOT_FOUND')) throw error;
    const why = error instanceof Error ? error.message.split('\n')[0] : String(error);
    return { answered: false, reason: `qemu-img could not probe the file the inspector calls raw: ${why}` };
  }
  let format: unknown;
  try {
    format = (JSON.parse(stdout) as { format?: unknown }).format;
  } catch {
    return { answered: false, reason: 'qemu-img info answered with something other than JSON' };
  }
  if (format === 'raw') return { answered: true, reason: undefined };
  return { answered: true, reason: `qemu-img probes the file as '${String(format)}', the inspector as raw` };
}
