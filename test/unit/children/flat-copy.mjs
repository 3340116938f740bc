// One compute agent making a raw (Flat) disk from a cached base:
// node flat-copy.mjs <instancesPath> <uuid> <filename>
// Prints `progress <done> <total>` once the copy into the disk is under way,
// then keeps copying; the test kills it with SIGKILL at that point.
import { load } from './common.mjs';

const [instancesPath, uuid, filename] = process.argv.slice(2);
const { Backend, copyRawData } = await load('index.js');
let told = false;
const backend = new Backend({
  instancesPath,
  imagesType: 'raw',
  tools: {
    copyRawData: (src, dst, options) =>
      copyRawData(src, dst, {
        ...options,
        chunkSize: 1 << 20,
        onProgress: (done, total) => {
          if (!told && done > 0 && done < total) {
            told = true;
            console.log(`progress ${done} ${total} ${dst}`);
          }
        },
      }),
  },
});
await backend.image({ uuid }, 'disk').cache({
  filename,
  imageId: 'flat-image',
  fetch: async () => {
    throw new Error('the base is cached: no fetch');
  },
});
console.log('done');
