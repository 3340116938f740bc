// One compute agent process provisioning rbd disks with no fetch (the image
// pipeline): node rbd-base-provision.mjs <instancesPath> <prefix> <disks> <imageId> <size> [hang]
// Settings from the environment: CEPH_CONF, CEPH_CLIENT_USER, CEPH_CLIENT_KEYRING,
// CEPH_POOL, GLANCE_URL. Prints one line `done <json>` with the Glance downloads
// this process made and the reports. With `hang`, the download stalls after
// 4 MiB (the base's staging image is then being written), the process prints
// `streaming` and waits to be killed.
import { load } from '../../unit/children/common.mjs';

const [instancesPath, prefix, disks, imageId, size, hang] = process.argv.slice(2);
const { Backend, GlanceImageService } = await load('index.js');
const glance = new GlanceImageService({ endpoint: process.env.GLANCE_URL });
let downloads = 0;
const imageService = {
  get: (...args) => glance.get(...args),
  download: async (...args) => {
    downloads++;
    const stream = await glance.download(...args);
    if (!hang) return stream;
    return (async function* () {
      let bytes = 0;
      for await (const chunk of stream) {
        yield chunk;
        bytes += chunk.length;
        if (bytes >= 4 * 2 ** 20) {
          console.log('streaming');
          await new Promise(() => setTimeout(() => {}, 3_600_000));
        }
      }
    })();
  },
};
const backend = new Backend({
  instancesPath,
  imagesType: 'rbd',
  imageService,
  rbd: { pool: process.env.CEPH_POOL, cephConf: process.env.CEPH_CONF, user: process.env.CEPH_CLIENT_USER, keyring: process.env.CEPH_CLIENT_KEYRING },
});
const reports = await Promise.all(
  Array.from({ length: Number(disks) }, (_, i) => backend.image({ uuid: `${prefix}-${i}` }, 'disk').cache({ imageId, size: Number(size), context: {} })),
);
console.log(`done ${JSON.stringify({ downloads, reports })}`);
await backend.close();
