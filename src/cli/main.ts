/**
 * The `imagebackend` command line: parses arguments and dispatches to the
 * commands in this folder. Returns the exit code; errors propagate.
 */
import { parseArgs } from 'node:util';

import { runDemo } from './demo.js';
import { parseSize } from './format.js';
import { runInfo } from './info.js';
import { runProvision } from './provisionCommand.js';

const USAGE = `Usage: imagebackend <command> [options]

Commands:
  info FILE [--output json|human] [--backing-chain]
      Describe a disk image (format, sizes, backing file, data file, safety)
      by reading its header natively, without running qemu-img.

  demo [--count N] [--size SIZE] [--base-size SIZE] [--keep]
      What \`npm start\` runs: in a temporary instances folder, fetch a base
      image once, provision N (50) qcow2 disks concurrently, extract a
      snapshot, print each disk, the timings and one disk's libvirt XML.

  provision --backend qcow2|raw|rbd|lvm --count N --size SIZE
            [--instances-path DIR] [--image FILE] [--base-size SIZE]
            [--concurrency N] [--ceph-conf FILE --ceph-user ID
            --ceph-keyring FILE --pool POOL] [--volume-group VG
            --lvm-runner cli|lib --sparse --volume-clear none|zero|shred]
            [--cleanup] [--keep] [--json]
      Provision N root disks from one base image (FILE, or a generated raw
      image of --base-size), with a progress bar on stderr. Without
      --instances-path a temporary folder is used (removed unless --keep).
      lvm: logical volumes in VG (required), made by the lvm program (cli,
      the default) or liblvm2cmd (lib); --cleanup wipes them per
      --volume-clear (zero) and removes them.
      SIZE: bytes or a number with K, M, G, T (e.g. 1G); 0 = the base's size.

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
  if (command === 'demo') {
    const { values } = parseArgs({
      args: rest,
      options: {
        count: { type: 'string', default: '50' },
        size: { type: 'string', default: '1G' },
        'base-size': { type: 'string', default: '256M' },
        keep: { type: 'boolean', default: false },
      },
    });
    const count = positiveInteger(values.count);
    const size = parseSize(values.size);
    const baseSize = parseSize(values['base-size']);
    if (count === undefined || size === undefined || baseSize === undefined || baseSize === 0) return usageError('demo: bad --count, --size or --base-size');
    await runDemo({ count, size, baseSize, keep: values.keep, out: process.stdout, progress: process.stderr });
    return 0;
  }
  if (command === 'provision') {
    const { values } = parseArgs({
      args: rest,
      options: {
        backend: { type: 'string', default: 'qcow2' },
        count: { type: 'string', default: '10' },
        size: { type: 'string', default: '0' },
        'base-size': { type: 'string', default: '256M' },
        concurrency: { type: 'string' },
        'instances-path': { type: 'string' },
        image: { type: 'string' },
        'ceph-conf': { type: 'string' },
        'ceph-user': { type: 'string' },
        'ceph-keyring': { type: 'string' },
        pool: { type: 'string' },
        'volume-group': { type: 'string' },
        'lvm-runner': { type: 'string', default: 'cli' },
        sparse: { type: 'boolean', default: false },
        'volume-clear': { type: 'string', default: 'zero' },
        cleanup: { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
    });
    const backend = values.backend;
    if (backend !== 'qcow2' && backend !== 'raw' && backend !== 'rbd' && backend !== 'lvm') {
      return usageError(`provision: --backend must be qcow2, raw, rbd or lvm, not '${backend}'`);
    }
    const lvmRunner = values['lvm-runner'];
    if (lvmRunner !== 'cli' && lvmRunner !== 'lib') return usageError(`provision: --lvm-runner must be cli or lib, not '${lvmRunner}'`);
    const volumeClear = values['volume-clear'];
    if (volumeClear !== 'none' && volumeClear !== 'zero' && volumeClear !== 'shred') {
      return usageError(`provision: --volume-clear must be none, zero or shred, not '${volumeClear}'`);
    }
    const count = positiveInteger(values.count);
    const size = parseSize(values.size);
    const baseSize = parseSize(values['base-size']);
    const concurrency = values.concurrency === undefined ? Math.min(count ?? 1, 50) : positiveInteger(values.concurrency);
    if (count === undefined || size === undefined || baseSize === undefined || baseSize === 0 || concurrency === undefined) {
      return usageError('provision: bad --count, --size, --base-size or --concurrency');
    }
    await runProvision({
      backend,
      count,
      size,
      baseSize,
      concurrency,
      ...(values['instances-path'] ? { instancesPath: values['instances-path'] } : {}),
      ...(values.image ? { image: values.image } : {}),
      ...(values['ceph-conf'] ? { cephConf: values['ceph-conf'] } : {}),
      ...(values['ceph-user'] ? { cephUser: values['ceph-user'] } : {}),
      ...(values['ceph-keyring'] ? { cephKeyring: values['ceph-keyring'] } : {}),
      ...(values.pool ? { pool: values.pool } : {}),
      ...(backend === 'lvm'
        ? { lvm: { ...(values['volume-group'] ? { volumeGroup: values['volume-group'] } : {}), runner: lvmRunner, sparse: values.sparse, volumeClear } }
        : {}),
      cleanup: values.cleanup,
      keep: values.keep,
      json: values.json,
      out: process.stdout,
      progress: process.stderr,
    });
    return 0;
  }
  process.stderr.write(`imagebackend: unknown command '${command}'\n\n${USAGE}`);
  return 2;
}


function positiveInteger(text: string | undefined): number | undefined {
  if (text === undefined || !/^[1-9][0-9]*$/.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

function usageError(message: string): number {
  process.stderr.write(`imagebackend ${message}\n\n${USAGE}`);
  return 2;
}
