// The one reader of scripts/ceph-cluster.sh's output agrees with the script's
// own quoting (its kv function, run by bash) and with a shell sourcing it.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { CEPH_CLUSTER_SCRIPT, describeCluster, parseClusterOutput } from '../../scripts/ceph-cluster-env.mjs';

/** The scripts' kv() function (scripts/lib/kv.sh, which ceph-cluster.sh sources), so the test runs the real quoting. */
function kvFunction(): string {
  const text = readFileSync(join(dirname(CEPH_CLUSTER_SCRIPT), 'lib', 'kv.sh'), 'utf8');
  const match = /^kv\(\) \{\n[\s\S]*?^\}\n/m.exec(text);
  if (!match) throw new Error('kv() not found in scripts/lib/kv.sh');
  return match[0];
}

const VALUES: Record<string, string> = {
  CEPH_CONF: '/tmp/imagebackend-ceph-x/ceph.conf',
  CEPH_MON_ADDR: 'v2:127.0.0.1:40123',
  CEPH_DIR: "/tmp/with space/and 'quotes'/x",
  CEPH_LOG_DIR: '/tmp/$HOME `date` \\ back"slash',
  CEPH_FSID: 'a=b=c',
  CEPH_EMPTY: '',
};

describe('parseClusterOutput', () => {
  it("reads back every value the script's kv() prints, as a shell would", () => {
    const lines = Object.entries(VALUES).map(([k, v]) => `kv ${k} ${shellQuote(v)}`);
    const printed = execFileSync('bash', ['-c', `${kvFunction()}\n${lines.join('\n')}`], { encoding: 'utf8' });
    expect(parseClusterOutput(`log noise on stdout\n${printed}`)).toEqual(VALUES);
    const sourced = execFileSync('bash', ['-c', `eval "$1"; printf '%s\\n' "$CEPH_DIR" "$CEPH_LOG_DIR"`, '_', printed], { encoding: 'utf8' });
    expect(sourced).toBe(`${VALUES.CEPH_DIR}\n${VALUES.CEPH_LOG_DIR}\n`);
  });

  it('refuses a badly quoted value rather than guessing', () => {
    expect(() => parseClusterOutput("CEPH_DIR='/tmp/x")).toThrow(/badly quoted value for CEPH_DIR/);
  });

  it('names the fields and says which one the script did not print', () => {
    const vars = {
      CEPH_CONF: '/c/ceph.conf',
      CEPH_FSID: 'f',
      CEPH_MON_HOST: '127.0.0.1:1',
      CEPH_MON_PORT: '1',
      CEPH_ADMIN_KEYRING: '/c/a.keyring',
      CEPH_CLIENT_USER: 'compute',
      CEPH_CLIENT_KEYRING: '/c/c.keyring',
    };
    expect(describeCluster(vars, '/c')).toMatchObject({
      dir: '/c',
      monPort: 1,
      admin: { user: 'admin', keyring: '/c/a.keyring' },
      client: { user: 'compute', keyring: '/c/c.keyring' },
      pools: { images: 'images', vms: 'vms' },
    });
    expect(() => describeCluster({ ...vars, CEPH_FSID: '' }, '/c')).toThrow(/did not print CEPH_FSID/);
  });
});

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}
