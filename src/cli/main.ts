/**
 * The `imagebackend` command line: parses arguments and dispatches to the
 * commands in this folder. Returns the exit code; errors propagate.
 */
import { parseArgs } from 'node:util';

import { runInfo } from './info.js';

const USAGE = `Usage: imagebackend <command> [options]

Commands:
  info FILE [--output json|human] [--backing-chain]
      Describe a disk image (format, sizes, backing file, data file, safety)
      by reading its header natively, without running qemu-img.

Options:
  -h, --help    Show this help.
`;

/**
 * Runs one command line (without `node` and the script name).
 *
 * @example
 * ```ts
 * process.exitCode = await main(['info', '/var/lib/nova/instances/_base/abc', '--output', 'json']);
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'info') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        output: { type: 'string', default: 'human' },
        'backing-chain': { type: 'boolean', default: false },
      },
    });
    const [file] = positionals;
    if (!file || positionals.length > 1 || (values.output !== 'json' && values.output !== 'human')) {
      process.stderr.write(USAGE);
      return 2;
    }
    process.stdout.write(`${await runInfo(file, values.output, values['backing-chain'])}\n`);
    return 0;
  }
  process.stderr.write(`imagebackend: unknown command '${command}'\n\n${USAGE}`);
  return 2;
}

