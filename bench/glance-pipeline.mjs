/* global fetch */
// 20 instances booted on the rbd backend from an image held in Glance's file
// store (so not cloneable from Glance), 1 GiB raw with 10 % data, and the same
// content as qcow2. Ours: 20 `disk.cache({ imageId, size, context })` calls
// through a Backend with the Glance image service and no fetch (the image
// pipeline, the provisioning default): the first streams the raw image from
// Glance into a base image held in the pool (`_base~<filename>`: hash
// verified on the way, zero runs skipped, written under a staging name and
// renamed), or converts the qcow2 download with qemu-img straight into it,
// snapshots it, and clones; the other 19 are clones of that snapshot. nova's
// way (images.fetch_to_raw + Rbd.create_image): download once to _base with
// the hash checked, qemu-img info, qemu-img convert to raw when not raw, then
// `rbd import` of the base for every instance. Both sides boot the instances
// one after another, as the same compute user.
//
// Local disk use: ours is sampled every 50 ms under its instances folder (the
// raw image's 1 MiB header probe, or the qcow2 download while it is
// converted); nova's is the base (and its conversion) under _base, measured
// after each step as before.
// --quick boots 5 instances from 256 MiB images.
import { createHash } from 'node:crypto';
import { open, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { cephArgs, pools, removeImages } from './lib/ceph.mjs';
import { GiB, MiB, makeRawFile } from './lib/files.mjs';
import { uploadImage } from './lib/glance.mjs';
import { compareRow, measure, run } from './lib/harness.mjs';


/** nova's download (glanceclient's data iterator into a file, every byte written, digest checked). */
async function novaDownload(url, image, path) {
  const res = await fetch(`${url}/v2/images/${image.id}/file`);
  if (!res.ok) throw new Error(`download: ${res.status}`);
  const hash = createHash(image.os_hash_algo);
  const fh = await open(path, 'w');
  try {
    for await (const chunk of res.body) {
      hash.update(chunk);
      await fh.write(chunk);
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
  if (hash.digest('hex') !== image.os_hash_value) throw new Error('nova download: hash mismatch');
}

async function diskUse(path) {
  const st = await stat(path).catch(() => undefined);
  return st ? st.blocks * 512 : 0;
}

/** Bytes allocated under `dir` (files in every subfolder). */
async function treeUse(dir) {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    total += entry.isDirectory() ? await treeUse(path) : await diskUse(path);
  }
  return total;
}

/** Runs `fn` while sampling the local disk use under `dir`; resolves with the peak seen. */
async function peakUse(dir, fn) {
  let peak = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await treeUse(dir));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  try {
    await fn();
  } finally {
    sampling = false;
    await sampler;
  }
  return peak;
}

export default {
  name: 'glance-pipeline',
  order: 60,
  needs: ['ceph', 'glance'],
  async run(ctx) {
    const { vms } = pools(ctx);
    const { CEPH_CONF, CEPH_CLIENT_USER, CEPH_CLIENT_KEYRING } = ctx.ceph.env;
    const bytes = ctx.quick ? 256 * MiB : GiB;
    const size = ctx.quick ? '256 MiB' : '1 GiB';
    const INSTANCES = ctx.quick ? 5 : 20;
    const rawFile = await makeRawFile(join(ctx.work, 'glance-source.raw'), bytes, 0.1);
    const qcow2File = join(ctx.work, 'glance-source.qcow2');
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', rawFile, qcow2File]);
    const raw = await uploadImage(ctx.glance.url, rawFile, 'raw');
    const qcow2 = await uploadImage(ctx.glance.url, qcow2File, 'qcow2');
    await rm(rawFile);
    await rm(qcow2File);

    const lib = ctx.lib;
    const glance = new lib.GlanceImageService({ endpoint: ctx.glance.url });
    // Counts Glance downloads: the pipeline must download each image once per run, whatever the instance count.
    let downloads = 0;
    const imageService = {
      get: (...args) => glance.get(...args),
      download: (...args) => {
        downloads++;
        return glance.download(...args);
      },
    };
    const rbd = { pool: vms, cephConf: CEPH_CONF, user: CEPH_CLIENT_USER, keyring: CEPH_CLIENT_KEYRING };
    const rows = [];
    const backends = new Map();
    try {
      for (const [kind, image, target] of [
        ['raw', raw, 3],
        ['qcow2', qcow2, 2],
      ]) {
        const names = (key, i) => Array.from({ length: INSTANCES }, (_, n) => `bench-glance-${kind}-${key}-${i}-${n}`);
        const peak = { ours: 0, nova: 0 };
        const stats = await measure(
          [
            {
              key: 'ours',
              setup: (i) => {
                const instancesPath = join(ctx.work, `ours-${kind}-${i}`);
                backends.set(i, new lib.Backend({ instancesPath, imagesType: 'rbd', imageService, rbd }));
              },
              fn: async (i) => {
                const backend = backends.get(i);
                downloads = 0;
                const used = await peakUse(backend.instancesPath, async () => {
                  for (const uuid of names('ours', i)) await backend.image({ uuid }, 'disk').cache({ imageId: image.id, size: bytes, context: {} });
                });
                peak.ours = Math.max(peak.ours, used);
                if (downloads !== 1) throw new Error(`glance-pipeline bench: ${downloads} Glance downloads for ${INSTANCES} instances, not 1`);
              },
              teardown: async (i) => {
                const backend = backends.get(i);
                backends.delete(i);
                await removeImages(ctx, vms, names('ours', i).map((uuid) => `${uuid}_disk`));
                // The base image in the pool goes too (it has no clones left), so the next run makes it again.
                if (!(await new lib.RbdBaseImages(backend.context).remove(lib.cacheFileName(image.id)))) {
                  throw new Error('glance-pipeline bench: the RBD base image was not removed');
                }
                await backend.close();
                await rm(backend.instancesPath, { recursive: true, force: true });
              },
            },
            {
              key: 'nova',
              fn: async (i) => {
                const baseDir = join(ctx.work, `nova-${kind}-${i}`, '_base');
                await mkdir(baseDir, { recursive: true });
                const base = join(baseDir, 'base');
                const part = `${base}.part`;
                await novaDownload(ctx.glance.url, image, part);
                await run('qemu-img', ['info', '-f', kind, '--output=json', part]);
                if (kind !== 'raw') {
                  await run('qemu-img', ['convert', '-t', 'none', '-O', 'raw', '-f', kind, part, `${part}.converted`]);
                  await run('qemu-img', ['info', '-f', 'raw', '--output=json', `${part}.converted`]);
                  peak.nova = Math.max(peak.nova, (await diskUse(part)) + (await diskUse(`${part}.converted`)));
                  await rm(part);
                  await rename(`${part}.converted`, base);
                } else {
                  await rename(part, base);
                }
                peak.nova = Math.max(peak.nova, await diskUse(base));
                for (const volume of names('nova', i)) {
                  await run('rbd', ['import', '--pool', vms, base, volume, '--image-format=2', ...cephArgs(ctx)]);
                }
              },
              teardown: async (i) => {
                await removeImages(ctx, vms, names('nova', i));
                await rm(join(ctx.work, `nova-${kind}-${i}`), { recursive: true, force: true });
              },
            },
          ],
          { reps: 1, warmup: 0 },
        );
        rows.push(
          compareRow({
            group: 'glance-pipeline',
            operation: `${INSTANCES} instances on rbd from a ${size} ${kind} image in Glance's file store (10 % data)`,
            stats,
            labels: {
              ours:
                kind === 'raw'
                  ? `disk.cache, no fetch: stream into an RBD base once, ${INSTANCES} clones`
                  : `disk.cache, no fetch: download, convert into an RBD base once, ${INSTANCES} clones`,
              nova: kind === 'raw' ? `download to _base, qemu-img info, rbd import ×${INSTANCES}` : `download, qemu-img info + convert to _base, rbd import ×${INSTANCES}`,
            },
            targets: { nova: { speedup: target } },
            context: `peak local disk use: ours ${(peak.ours / MiB).toFixed(1)} MiB (${kind === 'raw' ? 'the header probe' : 'the qcow2 download while converted'}), nova ${(peak.nova / MiB).toFixed(1)} MiB under _base`,
            details: { imageBytes: bytes, storedBytes: image.size, oursPeakLocalBytes: peak.ours, novaPeakLocalBytes: peak.nova },
          }),
        );
      }
    } finally {
      for (const backend of backends.values()) await backend.close();
    }
    return rows;
  },
};
