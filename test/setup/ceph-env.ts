import 'vitest';

import type { CephCluster } from '../../scripts/ceph-cluster-env.mjs';

/** What the global setup hands to integration tests about the test cluster (scripts/ceph-cluster-env.mjs reads it). */
export type CephEnv = CephCluster;

declare module 'vitest' {
  export interface ProvidedContext {
    ceph: CephEnv;
  }
}
