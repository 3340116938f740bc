// The plain objects the RBD calls take and return, under the one RBD
// vocabulary (RbdCluster/RbdPool/RbdImage); native.ts types the addon with them.

/** Layout of a new RBD image (create, clone, import); 0 or absent leaves librbd's default from ceph.conf. */
export interface RbdLayout {
  /** Feature bits (`RBD_FEATURE_*`, e.g. layering = 1); default `rbd_default_features`. */
  features?: number | bigint;
  /** Object size as a power of two: objects are `2^order` bytes (22: 4 MiB, the default). */
  order?: number;
  /** Stripe unit in bytes (fancy striping); must divide the object size. */
  stripeUnit?: number;
  /** Number of objects a stripe spans. */
  stripeCount?: number;
}

/** An RBD image's (or snapshot's) stat: librbd's `rbd_stat` plus its features and flags. */
export interface RbdImageStat {
  /** Size in bytes: a bigint, as librbd's sizes are 64-bit and an image can pass 2^53 bytes. */
  size: bigint;
  /** Bytes per RADOS object (`2^order`). */
  objectSize: number;
  /** Number of objects the image spans (size / object size, rounded up); a number, as it stays below 2^52 (2^64 bytes in objects of at least 4 KiB). */
  objects: number;
  /** log2 of the object size. */
  order: number;
  /** Prefix of the names of the RADOS objects holding the data, e.g. `rbd_data.10226b8b4567`. */
  blockNamePrefix: string;
  /** Enabled feature bits (`rbd_get_features`, `RBD_FEATURE_*`). */
  features: number;
  /** Image flags (`rbd_get_flags`, `RBD_FLAG_*`, e.g. object map invalid). */
  flags: number;
}

/** The parent snapshot a clone was made from (`rbd_get_parent`). */
export interface RbdParentInfo {
  /** The parent image's pool. */
  pool: string;
  /** The parent image's pool namespace; empty for the default namespace. */
  namespace: string;
  /** The parent image's name. */
  image: string;
  /** The parent image's internal id. */
  imageId: string;
  /** The snapshot of the parent the clone was made from. */
  snapshot: string;
  /** Whether the parent image has been moved to the trash. */
  trash: boolean;
}

/** One snapshot of an RBD image: librbd's `rbd_snap_info_t`. */
export interface RbdSnapshotInfo {
  /** The snapshot's id, unique within the image. */
  id: number;
  /** The snapshot's name. */
  name: string;
  /** Size of the image when the snapshot was taken, bytes (a bigint, as {@link RbdImageStat.size}). */
  size: bigint;
}

/**
 * The API version of the librbd the process loaded (`rbd_version`). Its
 * `minor` follows the Ceph release: 16 Pacific, 17 Quincy, 18 Reef, 19 Squid
 * (Debian 12's librbd1 16.2.15 reports 1.16.0, Debian 13's 18.2.7 1.18.0);
 * the Ceph point release is not part of it.
 */
export interface LibrbdVersion {
  /** 1 in every release since librbd's C API was versioned. */
  major: number;
  /** The Ceph release the library belongs to (16 = Pacific, 18 = Reef). */
  minor: number;
  /** 0 in every release so far. */
  extra: number;
}
