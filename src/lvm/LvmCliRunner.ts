import { spawn } from 'node:child_process';

import { invalidArgument, LvmError } from '../errors.js';
import { findProgram } from '../qemu/limits.js';
import { checkDevices, configString, resolveActivation } from './config.js';
import type { LvmCommandResult, LvmRunner, LvmRunnerOptions } from './LvmRunner.js';

/** Options of {@link LvmCliRunner}: the shared runner options plus the program, root helper and timeout. */
export interface LvmCliRunnerOptions extends LvmRunnerOptions {
  /** The lvm2 program; default `lvm` from PATH (or /usr/sbin, /sbin). */
  lvm?: string;
  /**
   * Prefix that runs `lvm` as root when this process is not, e.g.
   * `['sudo', '-n']`; the program path follows it. Default none.
   */
  rootHelper?: readonly string[];
  /** Wall-clock limit per command in ms (lvm2 can wait on a VG lock); default 5 minutes, 0 for none. */
  timeoutMs?: number;
}

/**
 * Runs lvm2 commands as `lvm <command> --config '…' <args…>`: an argv array
 * through spawn, never a shell, in the C locale, optionally behind a root
 * helper.
 *
 * @example
 * ```ts
 * const runner = new LvmCliRunner({ rootHelper: ['sudo', '-n'], devices: ['/dev/sdb'] });
 * const driver = new Lvm2Driver(runner);
 * console.log(await driver.vgInfo('nova-vg'));
 * ```
 */
export class LvmCliRunner implements LvmRunner {
  readonly kind = 'cli' as const;
  readonly #program: string;
  readonly #rootHelper: string[];
  readonly #timeoutMs: number;
  readonly #devices: string[] | undefined;
  readonly #activation: Promise<boolean>;
  #config: Promise<string> | undefined;

  constructor(options: LvmCliRunnerOptions = {}) {
    const helper = options.rootHelper ?? [];
    if (!Array.isArray(helper) || !helper.every((a) => typeof a === 'string' && a !== '')) {
      throw invalidArgument('an array of non-empty strings', 'rootHelper', helper);
    }
    const timeoutMs = options.timeoutMs ?? 5 * 60_000;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 0) throw invalidArgument('a non-negative integer', 'timeoutMs', timeoutMs);
    this.#program = options.lvm ?? 'lvm';
    this.#rootHelper = [...helper];
    this.#timeoutMs = timeoutMs;
    this.#devices = checkDevices(options.devices);
    this.#activation = resolveActivation(options.activation);
    // Reported when used, not as an unhandled rejection now.
    this.#activation.catch(() => undefined);
  }

  /**
   * Whether commands run with activation enabled (see `activation`).
   *
   * @example
   * ```ts
   * console.log((await runner.activationEnabled()) ? 'device-mapper' : 'activation=0');
   * ```
   */
  activationEnabled(): Promise<boolean> {
    return this.#activation;
  }

  /**
   * Runs one lvm2 command and resolves with its status and output, whatever
   * the status; rejects with `TOOL_NOT_FOUND` when lvm2 is not installed and
   * `LVM_FAILED` when it could not start or ran past the timeout.
   *
   * @example
   * ```ts
   * const { status, stdout } = await runner.run(['lvs', '--units', 'b', 'vg0']);
   * ```
   */
  async run(argv: readonly string[]): Promise<LvmCommandResult> {
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
      throw invalidArgument('a non-empty array of strings', 'argv', argv);
    }
    this.#config ??= this.#activation.then((on) => configString(on, this.#devices));
    const config = await this.#config;
    const lvm = await findProgram(this.#program, 'lvm2');
    const [sub, ...rest] = argv as [string, ...string[]];
    const command = [sub, '--config', config, ...rest];
    const full = [...this.#rootHelper, lvm, ...command];
    return new Promise<LvmCommandResult>((resolve, reject) => {
      const child = spawn(full[0] as string, full.slice(1), {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LC_ALL: 'C', LANG: 'C', LVM_SUPPRESS_FD_WARNINGS: '1' },
        timeout: this.#timeoutMs,
        killSignal: 'SIGKILL',
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const operation = `lvm ${sub}`;
      child.on('error', (error) => {
        reject(new LvmError(`${operation} could not start: ${error.message}`, { operation, cause: error }));
      });
      child.on('close', (status, signal) => {
        if (status === null) {
          const why = signal === 'SIGKILL' && this.#timeoutMs > 0 ? `ran past ${this.#timeoutMs} ms and was killed` : `ended by ${signal}`;
          reject(
            new LvmError(`${operation} ${why}`, {
              operation,
              process: { command: full, exitCode: null, signal, stderr: stderr.trim(), resourceLimited: false, timedOut: true },
            }),
          );
          return;
        }
        resolve({ status, stdout, stderr, command });
      });
    });
  }

  /**
   * Nothing to release; present for the {@link LvmRunner} contract.
   *
   * @example
   * ```ts
   * await runner.close(); // resolves at once
   * ```
   */
  async close(): Promise<void> {}

  /**
   * The same as `close()`, so the runner can be held with `await using`
   * and is closed when the scope ends, thrown out of or not.
   *
   * @example
   * ```ts
   * await using runner = new LvmCliRunner();
   * await runner.run(['vgs', '--reportformat', 'json']);
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
