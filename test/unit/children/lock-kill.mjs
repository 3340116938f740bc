// Takes a lock and dies by SIGKILL while holding it: node lock-kill.mjs <lockPath> <name>
import { load } from './common.mjs';

const [lockPath, name] = process.argv.slice(2);
const { Locks } = await load('cache/index.js');
const locks = new Locks({ lockPath, staleMs: 2000, updateMs: 1000 });
await locks.synchronized(name, async () => {
  console.log('locked');
  process.kill(process.pid, 'SIGKILL');
  await new Promise(() => {});
});
