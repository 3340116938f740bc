// fetchOnce from another process: node cache-fetch.mjs <instancesPath> <filename> <counterFile> <delayMs>
// The fetch appends this pid to counterFile, waits, then writes the base. Prints `path=<base>`.
import { appendFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { load } from './common.mjs';

const [instancesPath, filename, counterFile, delayMs] = process.argv.slice(2);
const { BaseImageCache } = await load('cache/index.js');
const cache = new BaseImageCache({ instancesPath });
const path = await cache.fetchOnce(filename, async ({ target }) => {
  await appendFile(counterFile, `${process.pid}\n`);
  await writeFile(target, 'half');
  await sleep(Number(delayMs));
  await writeFile(target, `base image of ${filename}\n`);
});
console.log(`path=${path}`);
