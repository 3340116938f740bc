// The runners every LVM driver test runs over: the same tests, the `lvm`
// program and liblvm2cmd in this process.
import { LvmCliRunner } from '../../src/lvm/LvmCliRunner.js';
import { LvmLibRunner } from '../../src/lvm/LvmLibRunner.js';
import type { LvmRunner, LvmRunnerOptions } from '../../src/lvm/LvmRunner.js';

export const RUNNERS: Array<{ name: string; make: (options: LvmRunnerOptions) => LvmRunner }> = [
  { name: 'cli', make: (options) => new LvmCliRunner(options) },
  { name: 'lib', make: (options) => new LvmLibRunner(options) },
];
