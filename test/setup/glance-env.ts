import 'vitest';

/** What the global setup hands to integration tests about the test Glance (scripts/glance-fixture.sh). */
export interface GlanceEnv {
  /** The fixture's folder (database, file store, logs). */
  dir: string;
  /** glance-api with `show_image_direct_url` only (Ceph's usual setup: `direct_url`, no `locations`). */
  url: string;
  /** glance-api that also shows `locations` (and accepts location PATCHes); same database and stores. */
  locationsUrl: string;
  /** The file store's folder: `<fileStore>/<image id>` holds an image's bytes. */
  fileStore: string;
  /** Ceph user and pool of Glance's rbd store (`ceph` backend). */
  ceph: { user: string; pool: string };
  /** The fixture's logs. */
  logDir: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Undefined when the run was started with IMAGEBACKEND_NO_GLANCE=1. */
    glance: GlanceEnv | undefined;
  }
}
