#!/usr/bin/env bash
# Throwaway single-host Ceph cluster for tests: one monitor, one memstore OSD,
# one manager (without it every cluster-wide usage figure reads 0), cephx on,
# everything (conf, keyrings, data, logs, sockets, pid files) under
# one directory so runs are isolated from each other and from /etc/ceph.
#
#   ceph-cluster.sh start DIR         build and start; prints KEY=VALUE lines
#   ceph-cluster.sh env DIR           reprint the KEY=VALUE lines
#   ceph-cluster.sh stop-daemons DIR  kill the daemons, keep DIR (a "dead" cluster)
#   ceph-cluster.sh stop DIR          kill the daemons and remove DIR
#
# stdout carries only the KEY=VALUE lines (shell-sourceable); all progress and
# diagnostics go to stderr.
set -Eeuo pipefail
# Name the command that failed: set -e alone exits silently.
trap 'log "command failed (line $LINENO): $BASH_COMMAND"' ERR

readonly PROG=${0##*/}
readonly POOL_IMAGES=images
readonly POOL_VMS=vms
readonly ADMIN_USER=admin
readonly CLIENT_USER=compute
readonly MON_ID=a
readonly OSD_ID=0
readonly MGR_ID=x
# Budget for each thing we wait on; the whole start normally takes a few seconds.
readonly WAIT_SECS=60
# Budget for the first usage figures to reach the mon once the pools are up
# (normally well under a second: the mgr is started right after the mon).
readonly STATS_WAIT_SECS=30
# Where ceph-mgr finds mgr_module.py, which every module, even a stub, imports.
readonly MGR_SYSTEM_MODULES=/usr/share/ceph/mgr
# The modules a Pacific mon lists as "always on" (ceph mgr module ls): each
# must exist or health turns HEALTH_ERR (MGR_MODULE_ERROR). See make_mgr_modules.
readonly MGR_ALWAYS_ON_MODULES=(balancer crash devicehealth orchestrator pg_autoscaler
  progress rbd_support status telemetry volumes)
# memstore only uses RAM for what is written, so a generous size costs nothing
# up front and leaves room for 256 MiB images and many clones.
readonly MEMSTORE_BYTES=$((8 * 1024 * 1024 * 1024))

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  cat >&2 <<EOF
usage: $PROG start DIR         start a 1-mon/1-mgr/1-OSD cephx cluster in DIR, print KEY=VALUE lines
       $PROG env DIR           reprint the KEY=VALUE lines of the cluster in DIR
       $PROG stop-daemons DIR  kill the cluster's daemons but keep DIR
       $PROG stop DIR          kill the cluster's daemons and remove DIR
EOF
  exit 2
}

# Fail early with the Debian package to install rather than half-way through.
check_binaries() {
  local entry bin pkg missing=0
  for entry in ceph-mon:ceph-mon ceph-osd:ceph-osd ceph-mgr:ceph-mgr monmaptool:ceph-base \
    ceph:ceph-common ceph-authtool:ceph-common rbd:ceph-common; do
    bin=${entry%%:*}
    pkg=${entry#*:}
    if ! command -v "$bin" >/dev/null 2>&1; then
      log "missing '$bin': install the Debian package '$pkg' (apt-get install ceph-mon ceph-osd ceph-mgr ceph-common)"
      missing=1
    fi
  done
  # The OSD's object classes (libcls_rbd.so and the rest), wherever this
  # release's packages put them.
  local cls
  cls=$(ls /usr/lib/*/rados-classes/libcls_rbd.so /usr/lib/rados-classes/libcls_rbd.so 2>/dev/null | head -n 1 || true)
  if [[ -z $cls ]]; then
    log "missing libcls_rbd.so: reinstall the Debian package 'ceph-osd'"
    missing=1
  fi
  CLASS_DIR=${cls%/*}
  if [[ ! -r $MGR_SYSTEM_MODULES/mgr_module.py ]]; then
    log "missing '$MGR_SYSTEM_MODULES/mgr_module.py': reinstall the Debian package 'ceph-mgr'"
    missing=1
  fi
  [[ $missing == 0 ]] || exit 1
}

# --- paths ------------------------------------------------------------------

set_paths() {
  [[ -n ${1:-} ]] || usage
  # Absolute paths: the conf is read by daemons and clients from other cwds.
  DIR=$(realpath -m -- "$1")
  CONF=$DIR/ceph.conf
  ADMIN_KEYRING=$DIR/ceph.client.$ADMIN_USER.keyring
  CLIENT_KEYRING=$DIR/ceph.client.$CLIENT_USER.keyring
  SEED_KEYRING=$DIR/seed.keyring
  MONMAP=$DIR/monmap
  MON_DATA=$DIR/mon/$MON_ID
  OSD_DATA=$DIR/osd/$OSD_ID
  MGR_DATA=$DIR/mgr/$MGR_ID
  MGR_MODULES=$DIR/mgr-modules
  LOG_DIR=$DIR/log
  RUN_DIR=$DIR/run
  CRASH_DIR=$DIR/crash
  ENV_FILE=$DIR/env
}

# --- daemon bookkeeping -------------------------------------------------------

# True if PID is a live (non-zombie) process started with our conf. The
# argv check keeps a recycled pid from a stale pid file from being killed;
# the zombie check matters because PID 1 in containers may be slow to reap.
# Builtins only, with errors silenced: processes may vanish mid-read.
is_ours() {
  local pid=$1 stat arg
  local -a argv=()
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]] || return 1
  { mapfile -d '' argv <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
  for arg in "${argv[@]}"; do
    if [[ $arg == "$CONF" ]]; then return 0; fi
  done
  return 1
}

# Pids of this cluster's daemons: those named by pid files under DIR, plus any
# ceph-mon/ceph-osd/ceph-mgr run with our conf (covers a daemon that died before
# writing its pid file, or a lost pid file). The conf path is unique to DIR.
our_pids() {
  local f pid p arg0
  local -A seen=()
  for f in "$RUN_DIR"/*.pid; do
    { read -r pid <"$f"; } 2>/dev/null || continue
    if is_ours "$pid" && [[ -z ${seen[$pid]:-} ]]; then
      seen[$pid]=1
      echo "$pid"
    fi
  done
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    arg0=
    { IFS= read -r -d '' arg0 <"$p/cmdline"; } 2>/dev/null || true
    case ${arg0##*/} in
      ceph-mon | ceph-osd | ceph-mgr) ;;
      *) continue ;;
    esac
    if is_ours "$pid" && [[ -z ${seen[$pid]:-} ]]; then
      seen[$pid]=1
      echo "$pid"
    fi
  done
}

# The subset of the given pids that are still live daemons of ours.
still_ours() {
  local pid
  for pid in "$@"; do
    if is_ours "$pid"; then echo "$pid"; fi
  done
}

# Poll (0.1 s steps, up to TENTHS) until none of the given pids is ours.
wait_gone() {
  local tenths=$1 i
  shift
  for ((i = 0; i < tenths; i++)); do
    [[ -n $(still_ours "$@") ]] || return 0
    sleep 0.1
  done
  return 1
}

# TERM, then KILL whatever is still there after a few seconds.
term_then_kill() {
  local what=$1
  shift
  local -a left=()
  log "stopping $what: $*"
  kill -TERM "$@" 2>/dev/null || true
  wait_gone 50 "$@" && return 0
  mapfile -t left < <(still_ours "$@")
  log "sending KILL to: ${left[*]}"
  kill -KILL "${left[@]}" 2>/dev/null || true
  wait_gone 100 "${left[@]}" || die "daemons still alive after KILL: $(still_ours "${left[@]}" | tr '\n' ' ')"
}

# Stop every daemon of the cluster and wait until all are really gone, so the
# caller can remove DIR or reuse the ports. OSDs go before the mon: an OSD
# whose mon is already dead waits 5 s (osd_mon_shutdown_timeout) trying to say
# goodbye. The mgr exits at once on TERM and has nothing to save, so it goes
# together with the OSDs instead of costing a round of its own.
kill_daemons() {
  local pid arg0 i lingering
  local -a pids=() first=() mons=()
  [[ -d $DIR ]] || return 0
  mapfile -t pids < <(our_pids)
  ((${#pids[@]})) || return 0
  for pid in "${pids[@]}"; do
    arg0=
    { IFS= read -r -d '' arg0 <"/proc/$pid/cmdline"; } 2>/dev/null || true
    case ${arg0##*/} in
      ceph-osd | ceph-mgr) first+=("$pid") ;;
      *) mons+=("$pid") ;;
    esac
  done
  if ((${#first[@]})); then term_then_kill "ceph-osd/ceph-mgr" "${first[@]}"; fi
  if ((${#mons[@]})); then term_then_kill ceph-mon "${mons[@]}"; fi
  # Dead daemons linger as zombies until PID 1 reaps them (a second or two
  # here); wait a little so 'pgrep ceph' right after a stop comes back empty.
  for ((i = 0; i < 30; i++)); do
    lingering=
    for pid in "${pids[@]}"; do
      if [[ -e /proc/$pid ]]; then lingering=$pid; fi
    done
    [[ -n $lingering ]] || break
    sleep 0.1
  done
  rm -f "$RUN_DIR"/*.pid
}

# --- start helpers ------------------------------------------------------------

# Admin CLI with a bounded wait: without a timeout a dead mon hangs forever.
ceph_admin() {
  timeout "$WAIT_SECS" ceph -c "$CONF" -n "client.$ADMIN_USER" --connect-timeout "$WAIT_SECS" "$@"
}

log_tail() {
  local f=$1
  if [[ -s $f ]]; then
    log "last lines of $f:"
    tail -n 25 "$f" >&2
  fi
}

# A random port outside the OSDs' bind range (6800-7300) and below the usual
# ephemeral range (32768+), so neither our OSDs nor outgoing connections take
# it. Parallel runs that still draw the same port are handled by retrying when
# the mon fails to bind.
pick_port() {
  local port i
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + RANDOM % 12000))
    # Something accepting connections there: in use, draw again.
    if ! (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  die "could not find a free TCP port on 127.0.0.1"
}

write_conf() {
  local fsid=$1 port=$2
  cat >"$CONF" <<EOF
# Throwaway test cluster made by $PROG; everything lives under $DIR.
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$port]
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
# Lets 'ceph -c CONF -n client.admin' and '--id compute' find their keys.
keyring = $DIR/ceph.\$name.keyring
run dir = $RUN_DIR
crash dir = $CRASH_DIR
# msgr2 only: one port for the mon, half as many for the OSD.
ms bind msgr1 = false
# One bind attempt: the default retries 3 times, 5 s apart, on a port clash.
ms bind retry count = 1
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
# Fixed PG counts: tests should not see pools split or merge under them (the
# autoscaler is stubbed out anyway, see make_mgr_modules).
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false
# A nearly full test disk must not make the mon shut itself down.
mon data avail warn = 1
mon data avail crit = 0
# Commit map changes at once instead of batching them for 1 s: every pool
# create, OSD boot and crush update otherwise waits out that interval.
paxos propose interval = 0.01
# Enable no optional mgr modules (the default turns on restful, iostat, nfs:
# restful would want a certificate and a fixed port, 8003, on every host
# address, which parallel clusters would fight over).
mgr initial modules =

[mon]
mon data = $DIR/mon/\$id
keyring = \$mon_data/keyring
log file = $LOG_DIR/\$name.log
admin socket = $RUN_DIR/\$name.asok
pid file = $RUN_DIR/\$name.pid
mon cluster log file = $LOG_DIR/cluster.log

[osd]
osd data = $DIR/osd/\$id
keyring = \$osd_data/keyring
log file = $LOG_DIR/\$name.log
admin socket = $RUN_DIR/\$name.asok
pid file = $RUN_DIR/\$name.pid
public addr = 127.0.0.1
cluster addr = 127.0.0.1
osd objectstore = memstore
memstore device bytes = $MEMSTORE_BYTES
# Where the object classes (rbd, lock...) are: Debian 13's Reef build
# defaults to a relative path the OSD cannot find (every rbd create then
# fails EOPNOTSUPP), so name the folder the packages installed.
osd class dir = $CLASS_DIR
# Test data is disposable: no need to flush memstore to disk on the way out.
osd fast shutdown = true

[mgr]
mgr data = $DIR/mgr/\$id
keyring = \$mgr_data/keyring
log file = $LOG_DIR/\$name.log
admin socket = $RUN_DIR/\$name.asok
pid file = $RUN_DIR/\$name.pid
# The mgr serves OSD reports on one msgr2 port from 6800-7300, like the OSD's;
# a port taken by another cluster is skipped, so parallel runs do not clash.
public addr = 127.0.0.1
mgr module path = $MGR_MODULES
# OSDs report usage every second (default 5) and the mgr passes it on to the
# mon every second (default 2), so usage figures trail writes by ~2 s at most.
# The price is one "pgmap" line a second in the mgr log and cluster.log.
mgr stats period = 1
mgr tick period = 1
EOF
}

# KEY=VALUE output, shared with the other fixture script.
# shellcheck source=lib/kv.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/kv.sh"

write_env() {
  local fsid=$1 port=$2
  {
    kv CEPH_DIR "$DIR"
    kv CEPH_CONF "$CONF"
    kv CEPH_ADMIN_USER "$ADMIN_USER"
    kv CEPH_ADMIN_KEYRING "$ADMIN_KEYRING"
    kv CEPH_CLIENT_USER "$CLIENT_USER"
    kv CEPH_CLIENT_KEYRING "$CLIENT_KEYRING"
    kv CEPH_FSID "$fsid"
    kv CEPH_MON_HOST "127.0.0.1:$port"
    kv CEPH_MON_ADDR "v2:127.0.0.1:$port"
    kv CEPH_MON_PORT "$port"
    kv CEPH_POOL_IMAGES "$POOL_IMAGES"
    kv CEPH_POOL_VMS "$POOL_VMS"
    kv CEPH_LOG_DIR "$LOG_DIR"
  } >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# Keys for every entity, made locally and handed to the mon at mkfs: the mon
# imports them with their caps, which saves one slow CLI round trip per user.
make_keyrings() {
  # ceph-authtool has no quiet flag and stdout is reserved for KEY=VALUE lines.
  ceph-authtool "$SEED_KEYRING" --create-keyring --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$ADMIN_KEYRING" --create-keyring --gen-key -n "client.$ADMIN_USER" \
    --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' --cap mds 'allow *' >/dev/null
  ceph-authtool "$CLIENT_KEYRING" --create-keyring --gen-key -n "client.$CLIENT_USER" \
    --cap mon 'profile rbd' \
    --cap osd "profile rbd pool=$POOL_VMS, profile rbd-read-only pool=$POOL_IMAGES" >/dev/null
  ceph-authtool "$OSD_DATA/keyring" --create-keyring --gen-key -n "osd.$OSD_ID" \
    --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd' >/dev/null
  ceph-authtool "$MGR_DATA/keyring" --create-keyring --gen-key -n "mgr.$MGR_ID" \
    --cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *' >/dev/null
  local k
  for k in "$ADMIN_KEYRING" "$CLIENT_KEYRING" "$OSD_DATA/keyring" "$MGR_DATA/keyring"; do
    ceph-authtool "$SEED_KEYRING" --import-keyring "$k" >/dev/null
  done
  chmod 600 "$SEED_KEYRING" "$ADMIN_KEYRING" "$CLIENT_KEYRING" "$OSD_DATA/keyring" "$MGR_DATA/keyring"
}

# The mgr is here only for the C++ part that gathers OSD reports into the
# usage figures the mon hands out. Its Python modules are dead weight: the mgr
# imports every one it finds, each in its own interpreter, before it goes
# active (on a 2-CPU VM: ~3 s for all of /usr/share/ceph/mgr, ~1.9 s for the
# always-on ones alone, ~0.6 s for the stubs below), and several act on the
# cluster (devicehealth creates a device_health_metrics pool, rbd_support
# polls every rbd pool, progress and balancer log every few seconds). The
# always-on ones cannot be disabled and a missing one is a HEALTH_ERR, so the
# mgr gets a module dir of its own holding do-nothing stand-ins under those
# names. (Only mgr/devicehealth/enable_monitoring would stop the pool, and
# mgr module options are read from the mon's config db, not ceph.conf.)
make_mgr_modules() {
  local m
  mkdir -p "$MGR_MODULES"
  ln -s "$MGR_SYSTEM_MODULES/mgr_module.py" "$MGR_SYSTEM_MODULES/mgr_util.py" "$MGR_MODULES/"
  for m in "${MGR_ALWAYS_ON_MODULES[@]}"; do
    mkdir "$MGR_MODULES/$m"
    # ceph-mgr only picks up directories that have a module.py.
    echo 'from .module import Module  # noqa: F401' >"$MGR_MODULES/$m/__init__.py"
    cat >"$MGR_MODULES/$m/module.py" <<EOF
# Stand-in made by $PROG: the real '$m' module is not needed for tests.
from mgr_module import MgrModule


class Module(MgrModule):
    NOTIFY_TYPES = []
EOF
  done
}

# Build the mon store for PORT and start the mon. Returns 2 if the port was
# taken (the caller draws another), 1 on any other failure.
start_mon() {
  local fsid=$1 port=$2
  write_conf "$fsid" "$port"
  rm -rf "$MON_DATA" "$MONMAP"
  mkdir -p "$MON_DATA"
  monmaptool --create --clobber --fsid "$fsid" --addv "$MON_ID" "[v2:127.0.0.1:$port]" "$MONMAP" >/dev/null
  ceph-mon -c "$CONF" -i "$MON_ID" --mkfs --monmap "$MONMAP" --keyring "$SEED_KEYRING" \
    >>"$LOG_DIR/mkfs.log" 2>&1 || {
    log_tail "$LOG_DIR/mkfs.log"
    return 1
  }
  # ceph-mon forks; the parent exits non-zero if the child fails to bind.
  if ceph-mon -c "$CONF" -i "$MON_ID" >>"$LOG_DIR/daemons.out" 2>&1; then
    return 0
  fi
  if grep -q 'Address already in use\|unable to bind' "$LOG_DIR/mon.$MON_ID.log" 2>/dev/null; then
    return 2
  fi
  log_tail "$LOG_DIR/mon.$MON_ID.log"
  log_tail "$LOG_DIR/daemons.out"
  return 1
}

# Before it forks, ceph-mgr authenticates and fetches its config from the mon
# (~0.2 s): run that part in the background, overlapping the OSD's start, and
# collect its exit code in check_mgr_launch. timeout bounds only the launch:
# the forked daemon has left timeout's process group.
MGR_LAUNCHER=
start_mgr() {
  timeout "$WAIT_SECS" ceph-mgr -c "$CONF" -i "$MGR_ID" >>"$LOG_DIR/daemons.out" 2>&1 &
  MGR_LAUNCHER=$!
}

check_mgr_launch() {
  local rc=0
  wait "$MGR_LAUNCHER" || rc=$?
  MGR_LAUNCHER=
  if [[ $rc != 0 ]]; then
    log "ceph-mgr failed to start (exit code $rc)"
    log_tail "$LOG_DIR/mgr.$MGR_ID.log"
    log_tail "$LOG_DIR/daemons.out"
    return 1
  fi
}

wait_osd_up() {
  local deadline=$((SECONDS + WAIT_SECS)) out
  while :; do
    out=$(ceph_admin osd dump -f json 2>/dev/null || true)
    if [[ $out =~ \"osd\":$OSD_ID,\"uuid\":\"[^\"]*\",\"up\":1 ]]; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      log "OSD $OSD_ID did not come up within ${WAIT_SECS}s"
      log_tail "$LOG_DIR/osd.$OSD_ID.log"
      log_tail "$LOG_DIR/daemons.out"
      return 1
    fi
    if ! is_ours "$(cat "$RUN_DIR/osd.$OSD_ID.pid" 2>/dev/null || echo x)"; then
      # No pid file yet is normal for a moment; a dead process is not.
      if [[ -e $RUN_DIR/osd.$OSD_ID.pid ]]; then
        log "OSD $OSD_ID exited during start"
        log_tail "$LOG_DIR/osd.$OSD_ID.log"
        return 1
      fi
    fi
    sleep 0.3
  done
}

# rbd pool init writes to the pool, so it only returns once its PGs are
# active; with one OSD and size 1 that also means clean. (Quicker than
# polling 'ceph pg stat', which lags by the mgr's report interval.)
init_pool() {
  local pool=$1
  if ! timeout "$WAIT_SECS" rbd -c "$CONF" -n "client.$ADMIN_USER" pool init "$pool" >&2; then
    log "pool '$pool' did not become active within ${WAIT_SECS}s"
    log_tail "$LOG_DIR/osd.$OSD_ID.log"
    log_tail "$LOG_DIR/cluster.log"
    return 1
  fi
}

# Polls the cluster-wide usage as client.compute until it is non-zero, then
# checks 'ceph df' (the same "df" mon command) as client.admin. Exit codes:
# 1 still zero at the deadline, 3 ceph-mgr died. argv: conf, compute user and
# keyring, admin user and keyring, seconds, mgr pid file.
readonly STATS_PY='
import json, sys, time
import rados

conf, user, keyring, admin, admin_keyring, secs, pid_file = sys.argv[1:]
deadline = time.monotonic() + float(secs)


def mgr_dead():
    try:
        with open(pid_file) as f:
            pid = f.read().strip()
    except OSError:
        return False  # not written yet
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1][0] == "Z"
    except OSError:
        return True


def connect(name, key):
    c = rados.Rados(conffile=conf, rados_id=name, conf={"keyring": key})
    c.connect()
    return c


c = connect(user, keyring)
while True:
    stats = c.get_cluster_stats()
    if stats["kb"] > 0:
        break
    if mgr_dead():
        sys.exit(3)
    if time.monotonic() > deadline:
        print("still all zero after %ss: %s" % (secs, stats), file=sys.stderr)
        sys.exit(1)
    time.sleep(0.1)
c.shutdown()
print("client.%s get_cluster_stats: %s" % (user, stats))

c = connect(admin, admin_keyring)
ret, out, err = c.mon_command(json.dumps({"prefix": "df", "format": "json"}), b"")
c.shutdown()
total = json.loads(out)["stats"]["total_bytes"] if ret == 0 else 0
if total <= 0:
    print("client.%s df: ret %d, total_bytes %s, %s" % (admin, ret, total, err), file=sys.stderr)
    sys.exit(1)
print("client.%s df: stats.total_bytes %d" % (admin, total))
'

# The mon answers statfs (rados_cluster_stat, 'ceph df', nova's
# get_pool_info) from the digest the mgr sends it once the OSD has reported
# in; until then every total is 0. Polling as client.compute also proves that
# its 'profile rbd' mon cap may read the figures.
wait_stats() {
  local rc=0 out line
  out=$(timeout "$((STATS_WAIT_SECS + 15))" /usr/bin/python3 -c "$STATS_PY" "$CONF" \
    "$CLIENT_USER" "$CLIENT_KEYRING" "$ADMIN_USER" "$ADMIN_KEYRING" \
    "$STATS_WAIT_SECS" "$RUN_DIR/mgr.$MGR_ID.pid" 2>&1) || rc=$?
  if [[ $rc == 0 ]]; then
    while IFS= read -r line; do log "$line"; done <<<"$out"
    return 0
  fi
  [[ -z $out ]] || log "$out"
  case $rc in
    3) log "ceph-mgr exited during start" ;;
    124) log "cluster stats check hung for $((STATS_WAIT_SECS + 15))s" ;;
    *) log "cluster usage stats still zero or unreadable after ${STATS_WAIT_SECS}s" ;;
  esac
  log_tail "$LOG_DIR/mgr.$MGR_ID.log"
  log_tail "$LOG_DIR/daemons.out"
  return 1
}

START_OK=0
on_start_exit() {
  if [[ $START_OK != 1 ]]; then
    log "start failed; stopping what was started"
    # A ceph-mgr launch still under way: stop it (timeout passes TERM on) and
    # wait, so that kill_daemons finds either nothing or the forked daemon.
    if [[ -n $MGR_LAUNCHER ]] && is_ours "$MGR_LAUNCHER"; then
      kill -TERM "$MGR_LAUNCHER" 2>/dev/null || true
      wait "$MGR_LAUNCHER" 2>/dev/null || true
    fi
    kill_daemons || true
    log "logs kept in $LOG_DIR (remove everything with: $PROG stop $DIR)"
  fi
}

cmd_start() {
  local fsid osd_uuid port attempt rc osd_id t0=$SECONDS

  mkdir -p "$DIR"
  if [[ -n $(our_pids) ]]; then
    die "a cluster is already running in $DIR (stop it first)"
  fi
  # Only our own names: DIR may be a directory the caller also uses.
  rm -rf "$CONF" "$ADMIN_KEYRING" "$CLIENT_KEYRING" "$SEED_KEYRING" "$MONMAP" \
    "$DIR/mon" "$DIR/osd" "$DIR/mgr" "$MGR_MODULES" "$LOG_DIR" "$RUN_DIR" "$CRASH_DIR" "$ENV_FILE"
  mkdir -p "$MON_DATA" "$OSD_DATA" "$MGR_DATA" "$LOG_DIR" "$RUN_DIR" "$CRASH_DIR"
  # Unix socket paths are limited to 107 bytes; longer ones only lose the asok.
  if ((${#RUN_DIR} + 12 > 107)); then
    log "warning: $RUN_DIR is long; admin sockets will not be created"
  fi

  START_OK=0
  trap on_start_exit EXIT

  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  make_keyrings
  make_mgr_modules

  log "starting mon in $DIR"
  for attempt in 1 2 3 4 5; do
    port=$(pick_port)
    rc=0
    start_mon "$fsid" "$port" || rc=$?
    [[ $rc == 0 ]] && break
    [[ $rc == 2 ]] || die "mon failed to start (see $LOG_DIR)"
    log "port $port taken, trying another (attempt $attempt)"
    mv "$LOG_DIR/mon.$MON_ID.log" "$LOG_DIR/mon.$MON_ID.port-$port.log" 2>/dev/null || true
  done
  [[ $rc == 0 ]] || die "mon could not bind a port after 5 attempts"
  rm -f "$SEED_KEYRING" "$MONMAP"

  # First, so that its start-up overlaps the OSD's: by the time the pools are
  # up it is active and the OSD's first report goes straight to the mon.
  log "starting mgr.$MGR_ID"
  start_mgr

  # The mon assigns the id; the conf assumes osd.0 (fresh cluster, so it is).
  osd_id=$(ceph_admin osd new "$osd_uuid") || {
    log_tail "$LOG_DIR/mon.$MON_ID.log"
    die "could not register the OSD with the mon"
  }
  [[ $osd_id == "$OSD_ID" ]] || die "mon assigned osd.$osd_id, expected osd.$OSD_ID"

  log "starting osd.$OSD_ID (memstore)"
  ceph-osd -c "$CONF" -i "$OSD_ID" --mkfs --osd-uuid "$osd_uuid" >>"$LOG_DIR/mkfs.log" 2>&1 || {
    log_tail "$LOG_DIR/mkfs.log"
    log_tail "$LOG_DIR/osd.$OSD_ID.log"
    die "ceph-osd --mkfs failed"
  }
  # An unknown objectstore value is dropped with only a log line and the OSD
  # falls back to bluestore (a 100 GiB sparse file under DIR): refuse that.
  [[ $(cat "$OSD_DATA/type" 2>/dev/null) == memstore ]] ||
    die "osd.$OSD_ID was not created with memstore (type: $(cat "$OSD_DATA/type" 2>/dev/null || echo unknown))"
  ceph-osd -c "$CONF" -i "$OSD_ID" >>"$LOG_DIR/daemons.out" 2>&1 || {
    log_tail "$LOG_DIR/osd.$OSD_ID.log"
    log_tail "$LOG_DIR/daemons.out"
    die "ceph-osd failed to start"
  }

  # Pool creation is a mon-only operation: do it while the OSD boots.
  ceph_admin osd pool create "$POOL_IMAGES" >/dev/null
  ceph_admin osd pool create "$POOL_VMS" >/dev/null

  wait_osd_up || die "OSD did not come up"
  init_pool "$POOL_IMAGES" || die "pool $POOL_IMAGES not usable"
  init_pool "$POOL_VMS" || die "pool $POOL_VMS not usable"
  check_mgr_launch || die "mgr did not start"
  wait_stats || die "no cluster usage stats (is the mgr working?)"

  write_env "$fsid" "$port"
  START_OK=1
  trap - EXIT
  log "cluster up in $((SECONDS - t0))s: mon at 127.0.0.1:$port, conf $CONF"
  cat "$ENV_FILE"
}

cmd_env() {
  [[ -r $ENV_FILE ]] || die "no cluster environment in $DIR (was it started?)"
  if [[ -z $(our_pids) ]]; then
    log "warning: no daemons of this cluster are running"
  fi
  cat "$ENV_FILE"
}

cmd_stop_daemons() {
  kill_daemons
}

cmd_stop() {
  kill_daemons
  [[ -e $DIR ]] || return 0
  # rm -rf on a mistyped argument would be a disaster: only remove DIR if it
  # is empty or holds one of our clusters.
  if [[ $DIR == / || ! ( -e $CONF || -e $ENV_FILE || -d $DIR/mon || -z $(ls -A -- "$DIR") ) ]]; then
    die "$DIR does not look like a cluster made by $PROG; not removing it"
  fi
  rm -rf -- "$DIR"
}

main() {
  (($# == 2)) || usage
  local cmd=$1
  case $cmd in
    start | stop | stop-daemons | env) ;;
    *) usage ;;
  esac
  set_paths "$2"
  case $cmd in
    start)
      check_binaries
      cmd_start
      ;;
    env) cmd_env ;;
    stop-daemons) cmd_stop_daemons ;;
    stop) cmd_stop ;;
  esac
}

main "$@"
