import 'vitest';

/** What the global setup hands to integration tests about the test cluster. */
export interface CephEnv {
  dir: string;
  conf: string;
  fsid: string;
  monHost: string;
  admin: { user: string; keyring: string };
  client: { user: string; keyring: string };
  pools: { images: string; vms: string };
  script: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    ceph: CephEnv;
  }
}
