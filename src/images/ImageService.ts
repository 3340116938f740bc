/**
 * The image service the pipeline reads images from (nova's `IMAGE_API`): a
 * superset of the Rbd backend's `{ get(context, imageId, { includeLocations }) }`
 * that also streams an image's bytes. {@link GlanceImageService} implements it
 * over Glance's v2 API; anything else with the same two methods works.
 */
import type { ImageServiceImage } from '../backends/types.js';

/** One place an image's bytes are stored. */
export interface ImageRecordLocation {
  /** e.g. `rbd://<fsid>/<pool>/<image>/<snapshot>` or `file:///var/lib/glance/images/<id>`. */
  url: string;
  /** The location's metadata as the service gives it; Glance multi-store puts the store's name in `store`. */
  metadata?: Record<string, unknown>;
}

/** An image's record (Glance's v2 image), with the fields the pipeline reads. */
export interface ImageRecord extends ImageServiceImage {
  /** The image's id. */
  id: string;
  /** `queued`, `saving`, `active`, `killed`, `deleted`, `pending_delete`, `deactivated`, `uploading`, `importing`; only `active` images are fetched. */
  status?: string;
  /** `raw`, `qcow2`, `vmdk`, `vhd`, `vhdx`, `vdi`, `iso`, `ploop`, `aki`, `ari`, `ami`. */
  disk_format?: string;
  /** `bare`, `ovf`, `ova`, `docker`, `compressed`, `aki`, `ari`, `ami`. */
  container_format?: string;
  /** Bytes stored (what a download yields), when known. */
  size?: number | null;
  /** The guest-visible size, when Glance computed it. */
  virtual_size?: number | null;
  /** md5 of the stored bytes (legacy). */
  checksum?: string | null;
  /** The algorithm of {@link ImageRecord.os_hash_value}, e.g. `sha512`. */
  os_hash_algo?: string | null;
  /** The hex digest of the stored bytes with {@link ImageRecord.os_hash_algo}. */
  os_hash_value?: string | null;
  /** Where the bytes are; `direct_url` folded in (nova's way) when asked with `includeLocations`. */
  locations?: ImageRecordLocation[];
  /** Glance's `direct_url` (`show_image_direct_url`), as given. */
  direct_url?: string;
  /** The stores holding the image (Glance multi-store), as an array. */
  stores?: string[];
}

/** Options of {@link ImageService.get}. */
export interface GetImageOptions {
  /** Also return where the bytes are stored (`locations`, with `direct_url` folded in). */
  includeLocations?: boolean;
  /** Aborts the request (rejects with `ABORTED`). */
  signal?: AbortSignal;
}

/** Options of {@link ImageService.download}. */
export interface DownloadImageOptions {
  /** Aborts the download (the stream then throws `ABORTED`). */
  signal?: AbortSignal;
}

/**
 * What the pipeline needs from an image service.
 *
 * @example
 * ```ts
 * const service: ImageService = new GlanceImageService({ endpoint: 'http://glance:9292' });
 * const record = await service.get(context, imageId, { includeLocations: true });
 * for await (const chunk of await service.download(context, imageId)) hash.update(chunk);
 * ```
 */
export interface ImageService {
  /** The image's record; `context` is the caller's request context (a token may come from it). */
  get(context: unknown, imageId: string, options?: GetImageOptions): Promise<ImageRecord>;
  /** The image's stored bytes, as a stream. */
  download(context: unknown, imageId: string, options?: DownloadImageOptions): Promise<AsyncIterable<Uint8Array>>;
}
