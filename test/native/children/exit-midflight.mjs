// Calls process.exit() while an import and many small operations are running:
// right after starting them (EXIT_AT=start) or once the import has reported
// progress (EXIT_AT=progress), so the import is certainly half-way.
import { addon, connect, pool } from './common.mjs';

// What src/rbd/RbdCluster.ts registers on the first connect.
process.once('exit', () => addon.rbdShutdownAll());

const h = await connect();
const name = `exit-${process.pid}`;
const exitAtProgress = process.env.EXIT_AT === 'progress';
addon
  .rbdImport(h, pool, name, process.env.IMPORT_FILE, {
    chunkSize: 1 << 20,
    concurrency: 2,
    onProgress: () => exitAtProgress && process.exit(0),
  })
  .catch(() => {});
for (let i = 0; i < 20; i++) addon.rbdList(h, pool).catch(() => {});
if (!exitAtProgress) process.exit(0);
