// A fetch that never ends: node cache-hang.mjs <instancesPath> <filename> <staleMs>
// Prints `fetching <target>` once it has written part of the base, then waits to be killed.
import { writeFile } from 'node:fs/promises';
import { BaseImageCacheChild } from './cache-child.mjs';

const [instancesPath, filename, staleMs] = process.argv.slice(2);
const cache = await BaseImageCacheChild(instancesPath, Number(staleMs));
await cache.fetchOnce(filename, async ({ target }) => {
  await writeFile(target, 'partial');
  console.log(`fetching ${target}`);
  await new Promise(() => setTimeout(() => {}, 3_600_000));
});
