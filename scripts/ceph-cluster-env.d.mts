// Types of scripts/ceph-cluster-env.mjs for the TypeScript tests.

/** The KEY=VALUE variables `ceph-cluster.sh start` prints (CEPH_CONF, CEPH_FSID, ...). */
export type ClusterVars = Record<string, string>;

/** A running throwaway cluster, as the tests and the bench use it. */
export interface CephCluster {
  /** The cluster's folder (data, logs, run files). */
  dir: string;
  /** Its ceph.conf. */
  conf: string;
  /** Its fsid. */
  fsid: string;
  /** The monitor, `127.0.0.1:<port>`. */
  monHost: string;
  /** The monitor's port. */
  monPort: number;
  /** The admin user and its keyring. */
  admin: { user: string; keyring: string };
  /** The restricted compute user (rbd on vms, read-only on images) and its keyring. */
  client: { user: string; keyring: string };
  /** The pool names. */
  pools: { images: string; vms: string };
  /** The daemons' log folder. */
  logDir: string | undefined;
  /** scripts/ceph-cluster.sh. */
  script: string;
}

export const CEPH_CLUSTER_SCRIPT: string;
export function parseClusterOutput(text: string): ClusterVars;
export function describeCluster(vars: ClusterVars, dir: string): CephCluster;
export function startCephCluster(dir?: string): Promise<{ vars: ClusterVars; cluster: CephCluster; stop: () => Promise<void> }>;
