#!/usr/bin/env bash
# Builds scripts/rbd-race/race.cc with g++ against the system librbd and runs
# it RUNS times against a throwaway cluster (scripts/ceph-cluster.sh), then
# prints one summary line: the librbd version, runs, clean, crashed, hung,
# failed. Exits 0 when every run was clean, 1 when any crashed or hung (the
# race reproduced), 2 on any other failure. Slow (~20-60 s a run): run on
# demand, never in CI.
#
#   scripts/rbd-race/run.sh [RUNS] [ROUNDS] [CLONES] [THREADS]   (defaults 10 5 100 16)
#
# Needs root, g++ and librbd-dev/librados-dev (scripts/setup.sh installs them).
# RACE_TIMEOUT (seconds, default 300) is the budget of one run; past it the run
# counts as hung. Works the same inside the Debian 13 root (scripts/trixie-test.sh
# shows how to enter it).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runs=${1:-10} rounds=${2:-5} clones=${3:-100} threads=${4:-16}
budget=${RACE_TIMEOUT:-300}

work="$(mktemp -d "${TMPDIR:-/tmp}/rbd-race.XXXXXX")"
cluster="$work/cluster"
cleanup() {
  bash "$here/../ceph-cluster.sh" stop "$cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

g++ -O2 -g -std=c++17 -pthread -o "$work/race" "$here/race.cc" -lrbd -lrados
version="$(dpkg-query -W -f '${Version}' librbd1 2>/dev/null || echo unknown)"

eval "$(bash "$here/../ceph-cluster.sh" start "$cluster")"
admin_keyring=$CEPH_ADMIN_KEYRING

clean=0 crashed=0 hung=0 failed=0
for ((i = 1; i <= runs; i++)); do
  start=$SECONDS
  set +e
  timeout --signal=KILL "$budget" "$work/race" "$CEPH_CONF" "$CEPH_ADMIN_USER" "$admin_keyring" \
    "$CEPH_POOL_IMAGES" "$rounds" "$clones" "$threads" 2>"$work/last.log"
  rc=$?
  set -e
  if ((rc == 0)); then
    clean=$((clean + 1)) outcome=clean
  elif ((rc == 137)) && ((SECONDS - start >= budget)); then
    hung=$((hung + 1)) outcome="hung (killed after ${budget} s)"
  elif ((rc > 128)); then
    crashed=$((crashed + 1)) outcome="crashed: signal $((rc - 128)) ($(kill -l $((rc - 128))))"
  else
    failed=$((failed + 1)) outcome="failed: exit $rc"
  fi
  echo "rbd-race: run $i/$runs: $outcome in $((SECONDS - start)) s" >&2
  if [[ $outcome != clean ]]; then
    grep -v '^race: round' "$work/last.log" | tail -n 5 | sed 's/^/rbd-race:   /' >&2 || true
  fi
done
echo "librbd=$version runs=$runs rounds=$rounds clones=$clones threads=$threads clean=$clean crashed=$crashed hung=$hung failed=$failed"
((crashed + hung > 0)) && exit 1
((failed > 0)) && exit 2
exit 0
