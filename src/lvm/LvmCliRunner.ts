import { invalidArgument, LvmError } from '../errors.js';
import { describeOutcome, processFailure, runProcess } from '../process/runProcess.js';
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
  /**
   * Time between SIGTERM and SIGKILL when a command runs past its timeout;
   * default 2000 ms. lvm2 defers SIGTERM while it writes metadata, so the
   * grace lets a command interrupted mid-update finish the update.
   */
  killGraceMs?: number;
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
  readonly #killGraceMs: number | undefined;
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
    if (options.killGraceMs !== undefined && (!Number.isSafeInteger(options.killGraceMs) || options.killGraceMs < 0)) {
      throw invalidArgument('a non-negative integer', 'killGraceMs', options.killGraceMs);
    }
    this.#killGraceMs = options.killGraceMs;
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
   * `LVM_FAILED` when it could not start, ran past the timeout (SIGTERM, then
   * SIGKILL after the grace) or was killed by a signal (`process.signal`
   * names it, `process.exitCode` is null).
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
    const [sub, ...rest] = argv as [string, ...string[]];
    const command = [sub, '--config', config, ...rest];
    const operation = `lvm ${sub}`;
    const outcome = await runProcess(
      { program: this.#program, packageName: 'lvm2', args: command, prefix: this.#rootHelper },
      {
        operation,
        timeoutMs: this.#timeoutMs,
        ...(this.#killGraceMs !== undefined ? { killGraceMs: this.#killGraceMs } : {}),
        env: { LVM_SUPPRESS_FD_WARNINGS: '1' },
        startError: (message, details) => new LvmError(message, details),
      },
    );
    // A status is lvm2's answer, whatever it is; a signal or the timeout is not.
    if (outcome.exitCode === null || outcome.timedOut) {
      throw new LvmError(describeOutcome(operation, outcome, this.#timeoutMs), { operation, process: processFailure(outcome) });
    }
    return { status: outcome.exitCode, stdout: outcome.stdout, stderr: outcome.stderr, command };
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
