import { invalidArgument, LvmError } from '../errors.js';
import { callNative } from '../fromNative.js';
import { native } from '../native.js';
import { checkDevices, configString, resolveActivation } from './config.js';
import type { LvmCommandResult, LvmRunner, LvmRunnerOptions } from './LvmRunner.js';

// lvm2's command-line splitter (tools/lvmcmdline.c lvm_split) takes at most
// this many words, splits on whitespace, honours one leading quote per word
// (no escapes) and treats a word starting with '#' as the end of the line.
const MAX_ARGS = 64;
// lvm2_run's return values (lvm2cmd.h) and the exit statuses of the lvm program.
const SUCCEEDED = 1;

/** One argument as lvm_split will read it back; throws when it cannot be written. */
function quote(arg: string): string {
  if (arg !== '' && !/[\s'"#]/.test(arg[0] as string) && !/\s/.test(arg)) return arg;
  if (!arg.includes("'")) return `'${arg}'`;
  if (!arg.includes('"')) return `"${arg}"`;
  throw invalidArgument("an argument without both ' and \" (liblvm2cmd cannot quote it)", 'argv[]', arg);
}

/** lvm2_run's return mapped to the exit status the `lvm` program would give. */
function exitStatus(status: number): number {
  return status === SUCCEEDED ? 0 : status;
}

// A line of lvm2's JSON output starts with structure or a quoted key; the
// library hands warnings and notices ("Logical volume "x" created.") to the
// same callback at the same level, so they are told apart by shape.
const JSON_LINE = /^\s*[{}[\],"]/;

/**
 * Runs lvm2 commands inside this process through liblvm2cmd (`lvm2_run`) on
 * one dedicated native thread: no fork and exec per command, and no lvm2
 * start-up (config parsing, device scan set-up) after the first. Calls run
 * one at a time in the order made. Needs root, like lvm2 itself.
 *
 * Process-wide effects of liblvm2cmd: the umask is 077 while a command runs
 * (put back after each), and lvm2 may briefly install its own SIGINT handler.
 *
 * @example
 * ```ts
 * const driver = new Lvm2Driver(new LvmLibRunner({ devices: ['/dev/sdb'] }));
 * console.log(await driver.listVolumes('nova-vg'));
 * await driver.close();
 * ```
 */
export class LvmLibRunner implements LvmRunner {
  readonly kind = 'lib' as const;
  readonly #devices: string[] | undefined;
  readonly #activation: Promise<boolean>;
  #config: Promise<string> | undefined;
  // One call in flight: the native side waits on a libuv pool thread.
  #tail: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(options: LvmRunnerOptions = {}) {
    this.#devices = checkDevices(options.devices);
    this.#activation = resolveActivation(options.activation);
    this.#activation.catch(() => undefined);
    native(); // fail here, with the cause and the fix, if the addon cannot load
  }

  /**
   * Whether commands run with activation enabled (see `activation`).
   *
   * @example
   * ```ts
   * console.log(await runner.activationEnabled());
   * ```
   */
  activationEnabled(): Promise<boolean> {
    return this.#activation;
  }

  /**
   * Runs one lvm2 command in-process; resolves with the status the `lvm`
   * program would exit with, the JSON output as stdout and the other
   * messages as stderr. Rejects with `LVM_FAILED` when liblvm2cmd could not
   * start or the runner is closed.
   *
   * @example
   * ```ts
   * const { status, stdout } = await runner.run(['vgs', '--units', 'b', 'vg0']);
   * ```
   */
  run(argv: readonly string[]): Promise<LvmCommandResult> {
    const next = this.#tail.then(() => this.#run(argv));
    this.#tail = next.catch(() => undefined);
    return next;
  }

  async #run(argv: readonly string[]): Promise<LvmCommandResult> {
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
      throw invalidArgument('a non-empty array of strings', 'argv', argv);
    }
    const [sub, ...rest] = argv as [string, ...string[]];
    const operation = `lvm ${sub}`;
    if (this.#closed) throw new LvmError(`${operation}: the runner is closed`, { operation });
    this.#config ??= this.#activation.then((on) => configString(on, this.#devices));
    const command = [sub, '--config', await this.#config, ...rest];
    if (command.length > MAX_ARGS - 1) throw invalidArgument(`at most ${MAX_ARGS - 4} arguments`, 'argv', argv);
    const cmdline = command.map(quote).join(' ');
    const out = await callNative({ domain: 'lvm', operation }, () => native().lvm2Run(cmdline));
    const stdout: string[] = [];
    const stderr: string[] = [];
    for (const [level, text] of out.messages) (level === 4 && JSON_LINE.test(text) ? stdout : stderr).push(text);
    return { status: exitStatus(out.status), stdout: stdout.join('\n'), stderr: stderr.join('\n'), command };
  }

  /**
   * Refuses further commands after those queued. The native thread is shared
   * by the process and stops when Node.js cleans up.
   *
   * @example
   * ```ts
   * await runner.close();
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#tail;
  }

  /**
   * The same as `close()`, so the runner can be held with `await using`
   * and is closed when the scope ends, thrown out of or not.
   *
   * @example
   * ```ts
   * await using runner = new LvmLibRunner();
   * await runner.run(['vgs', '--reportformat', 'json']);
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
