// A BaseImageCache with short lock timings, for the stale-lock tests.
import { join } from 'node:path';
import { load } from './common.mjs';

export async function BaseImageCacheChild(instancesPath, staleMs) {
  const { BaseImageCache, Locks } = await load('cache/index.js');
  const locks = new Locks({ lockPath: join(instancesPath, 'locks'), staleMs, updateMs: 1000 });
  return new BaseImageCache({ instancesPath, locks });
}
