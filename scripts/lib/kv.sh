# shellcheck shell=bash
# KEY=VALUE on stdout, single-quoted only when the value needs it, so both a
# shell and the one parser of these lines (scripts/ceph-cluster-env.mjs) read
# it back. Sourced by ceph-cluster.sh and glance-fixture.sh.
kv() {
  local v=$2 q="'\\''"
  if [[ $v =~ ^[A-Za-z0-9_./:@%+,=-]*$ ]]; then
    printf '%s=%s\n' "$1" "$v"
  else
    printf "%s='%s'\n" "$1" "${v//\'/$q}"
  fi
}
