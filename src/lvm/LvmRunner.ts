/**
 * How an lvm2 command is run: the `lvm` program ({@link LvmCliRunner}) or
 * liblvm2cmd in this process ({@link LvmLibRunner}). A runner only runs; the
 * driver builds the arguments and reads the reports.
 */

/** What one lvm2 command printed and how it ended. */
export interface LvmCommandResult {
  /** lvm2's exit status: 0 on success (the library's 1 is mapped to 0). */
  status: number;
  /** The report and command log, as JSON (the runners configure `report/output_format=json`). */
  stdout: string;
  /** Warnings and errors lvm2 printed outside the report. */
  stderr: string;
  /** The arguments that ran, starting with the lvm2 command (`lvs`, `lvcreate`...). */
  command: readonly string[];
}

/** Options shared by both runners. */
export interface LvmRunnerOptions {
  /**
   * Whether lvm2 may activate volumes (talk to device-mapper). `'auto'`
   * (default) checks once whether the kernel has device-mapper; where it has
   * none, every command runs with `global/activation=0`, so metadata
   * operations still work and no volume gets a device node.
   */
  activation?: boolean | 'auto';
  /**
   * Restrict lvm2 to these block devices (a `devices/filter` that accepts
   * exactly these paths and rejects the rest). Default: lvm2's own filter.
   */
  devices?: readonly string[];
}

/**
 * Runs one lvm2 command. Implementations add the `--config` the options ask
 * for right after the command name; they resolve with any exit status and
 * reject only when the command could not run at all.
 */
export interface LvmRunner {
  /** Which runner this is, for logs and test output. */
  readonly kind: 'cli' | 'lib';
  /**
   * Runs `argv` (`['lvs', '--units', 'b', 'vg0']`).
   *
   * @example
   * ```ts
   * const { status, stdout } = await runner.run(['vgs', '--units', 'b', 'vg0']);
   * ```
   */
  run(argv: readonly string[]): Promise<LvmCommandResult>;
  /** Whether commands run with activation (device-mapper) enabled. */
  activationEnabled(): Promise<boolean>;
  /** Releases what the runner holds; idempotent. */
  close(): Promise<void>;
}
