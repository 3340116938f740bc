#!/usr/bin/env bash
# A real, throwaway Glance v2 API for tests and benchmarks: Debian's glance-api
# (Zed), no Keystone, sqlite, a file store and an rbd store, everything (confs,
# database, image files, logs, pid files) under one directory.
#
# Two glance-api processes share one database and one file store, so an image
# uploaded through either is seen by both:
#   GLANCE_URL            show_image_direct_url = true (Ceph's usual setup:
#                         `direct_url`, no `locations`)
#   GLANCE_LOCATIONS_URL  also show_multiple_locations = true (`locations`
#                         shown, and PATCH of locations allowed)
#
#   glance-fixture.sh start DIR [CEPH_CONF]  start both; print KEY=VALUE lines
#   glance-fixture.sh ceph-user CEPH_CONF    make client.glance (rwx on the
#                                            images pool) once the cluster is up
#   glance-fixture.sh env DIR                reprint the KEY=VALUE lines
#   glance-fixture.sh stop DIR               stop both and remove DIR
#
# CEPH_CONF (the test cluster's conf, see ceph-cluster.sh) may name a file that
# does not exist yet: glance_store opens the rbd connection per operation, so
# Glance and the cluster can start concurrently; the rbd store works once
# `ceph-user` has run. The conf's `keyring = <dir>/ceph.$name.keyring` is where
# `ceph-user` writes client.glance's key.
#
# stdout carries only the KEY=VALUE lines; progress goes to stderr.
set -Eeuo pipefail
trap 'log "command failed (line $LINENO): $BASH_COMMAND"' ERR

readonly PROG=${0##*/}
readonly CEPH_USER=glance
readonly CEPH_POOL=images
# Ready in 3-6 s on a quiet machine, up to 12 s on a loaded one.
readonly WAIT_SECS=90
readonly PY=/usr/bin/python3
readonly INSTANCES=(direct locations)

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '14,17p' "$0" | sed 's/^# *//' >&2
  exit 2
}

set_paths() {
  [[ -n ${1:-} ]] || usage
  DIR=$(realpath -m -- "$1")
  DB=$DIR/glance.sqlite
  FILE_STORE=$DIR/images
  LOG_DIR=$DIR/log
  RUN_DIR=$DIR/run
  ENV_FILE=$DIR/env
}

check_binaries() {
  local missing=0 bin
  for bin in glance-api glance-manage; do
    if ! command -v "$bin" >/dev/null 2>&1; then
      log "missing '$bin': install the Debian package 'glance-api' (apt-get install glance-api)"
      missing=1
    fi
  done
  [[ -x $PY ]] || {
    log "missing $PY: install the Debian package 'python3'"
    missing=1
  }
  [[ -r /etc/glance/glance-api-paste.ini ]] || {
    log "missing /etc/glance/glance-api-paste.ini: reinstall the Debian package 'glance-api'"
    missing=1
  }
  [[ $missing == 0 ]] || exit 1
}

# KEY=VALUE output, shared with the other fixture script.
# shellcheck source=lib/kv.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib/kv.sh"

# --- database ---------------------------------------------------------------

# db_sync takes 1.5-3.5 s; a synced empty database is the same bytes every
# time for one Glance version, so it is made once per version and copied.
make_db() {
  local version template tmp
  version=$(glance-manage --version 2>&1 | tail -n 1)
  [[ $version =~ ^[0-9A-Za-z.+~-]+$ ]] || die "cannot read glance-manage's version: $version"
  template=${IMAGEBACKEND_GLANCE_DB_CACHE:-/var/tmp}/imagebackend-glance-$version.sqlite
  if [[ ! -s $template ]]; then
    log "syncing a new Glance $version database (once per version: $template)"
    tmp=$DIR/template.sqlite
    write_conf direct "$DIR/template.conf" "sqlite:///$tmp" ""
    glance-manage --config-file "$DIR/template.conf" --log-file "$LOG_DIR/db-sync.log" db_sync >/dev/null 2>&1 ||
      die "glance-manage db_sync failed; see $LOG_DIR/db-sync.log"
    mv -f -- "$tmp" "$template.$$" && mv -f -- "$template.$$" "$template"
    rm -f -- "$DIR/template.conf"
  fi
  cp -- "$template" "$DB"
}

# --- configuration ------------------------------------------------------------

# write_conf NAME CONF_PATH DB_URL CEPH_CONF
write_conf() {
  local name=$1 conf=$2 db=$3 ceph_conf=$4 multiple=false backends='local:file, ceph:rbd'
  [[ $name == locations ]] && multiple=true
  [[ -n $ceph_conf ]] || backends='local:file'
  cat >"$conf" <<EOF
# Throwaway Glance made by $PROG; everything lives under $DIR.
[DEFAULT]
# One process: no forked workers to find and stop.
workers = 0
log_file = $LOG_DIR/glance-api-$name.log
debug = false
enabled_backends = $backends
show_image_direct_url = true
show_multiple_locations = $multiple
image_cache_dir = $DIR/cache
# A test image may be a few GiB.
image_size_cap = 17179869184
[paste_deploy]
config_file = $DIR/glance-api-paste.ini
# Empty: the no-Keystone pipeline, every request an admin context.
flavor =
[database]
connection = $db
[glance_store]
default_backend = local
[local]
filesystem_store_datadir = $FILE_STORE
[ceph]
rbd_store_pool = $CEPH_POOL
rbd_store_user = $CEPH_USER
rbd_store_ceph_conf = $ceph_conf
rados_connect_timeout = 10
[os_glance_staging_store]
filesystem_store_datadir = $DIR/staging
[os_glance_tasks_store]
filesystem_store_datadir = $DIR/tasks
[oslo_concurrency]
lock_path = $DIR/locks
[oslo_policy]
policy_file = $DIR/policy.yaml
EOF
}

# Admin-only in Zed, and the no-Keystone context has no roles.
write_policy() {
  cat >"$DIR/policy.yaml" <<'EOF'
"copy_image": ""
"publicize_image": ""
"delete_image_location": ""
"get_image_location": ""
"set_image_location": ""
"manage_image_cache": ""
EOF
}

# --- processes ----------------------------------------------------------------

# True if PID is a live glance-api started with one of our confs.
is_ours() {
  local pid=$1 stat arg
  local -a argv=()
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  { read -r stat <"/proc/$pid/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]] || return 1
  { mapfile -d '' argv <"/proc/$pid/cmdline"; } 2>/dev/null || return 1
  for arg in "${argv[@]}"; do
    if [[ $arg == "$DIR"/glance-api-*.conf ]]; then return 0; fi
  done
  return 1
}

our_pids() {
  local f pid
  for f in "$RUN_DIR"/*.pid; do
    pid=$(cat -- "$f" 2>/dev/null) || continue
    if is_ours "$pid"; then echo "$pid"; fi
  done
}

stop_processes() {
  local -a pids left
  local pid i
  mapfile -t pids < <(our_pids)
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    left=()
    for pid in "${pids[@]}"; do is_ours "$pid" && left+=("$pid"); done
    ((${#left[@]})) || return 0
    sleep 0.1
  done
  log "glance-api ${left[*]} ignored SIGTERM for 5 s; killing"
  kill -KILL "${left[@]}" 2>/dev/null || true
}

# Binds 127.0.0.1:0 itself (no race for a port), writes the port and pid
# files, and runs glance-api's main() in this process with the listening
# socket in GLANCE_TEST_SOCKET_FD (Glance's own test hook). With an rbd store
# it first imports Glance (most of the start-up time) and then waits for
# client.glance's keyring: Glance connects to Ceph once at start (to read the
# fsid for its rbd:// URLs) and fails without a cluster, so this is what lets
# Glance and the cluster start concurrently.
launch() {
  local name=$1 keyring=$2
  local conf=$DIR/glance-api-$name.conf
  "$PY" -c '
import os, socket, sys, time
conf, port_file, pid_file, log_file, keyring, wait = sys.argv[1:7]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("127.0.0.1", 0))
s.listen(128)
with open(port_file + ".tmp", "w") as f: f.write(str(s.getsockname()[1]))
os.rename(port_file + ".tmp", port_file)
with open(pid_file, "w") as f: f.write(str(os.getpid()))
os.environ["GLANCE_TEST_SOCKET_FD"] = str(s.fileno())
out = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.dup2(out, 1); os.dup2(out, 2)
sys.argv = ["glance-api", "--config-file", conf]
import glance.cmd.api, glance.api.v2.router
deadline = time.monotonic() + float(wait)
while keyring and not os.path.exists(keyring):
    if time.monotonic() > deadline: sys.exit("no Ceph keyring %s after %s s" % (keyring, wait))
    time.sleep(0.1)
glance.cmd.api.main()
' "$conf" "$RUN_DIR/$name.port" "$RUN_DIR/$name.pid" "$LOG_DIR/glance-api-$name.stdio" "$keyring" "$WAIT_SECS" </dev/null &
  disown
}

wait_ready() {
  local name=$1 deadline=$((SECONDS + WAIT_SECS)) port pid
  while ((SECONDS < deadline)); do
    [[ -d $RUN_DIR ]] || die "stopped while starting ($DIR is gone)"
    if [[ -s $RUN_DIR/$name.port && -s $RUN_DIR/$name.pid ]]; then
      port=$(<"$RUN_DIR/$name.port")
      pid=$(<"$RUN_DIR/$name.pid")
      if "$PY" - "$port" <<'EOF' 2>/dev/null; then
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthcheck", timeout=2).read()
EOF
        return 0
      fi
      if ! is_ours "$pid" && ! kill -0 "$pid" 2>/dev/null; then
        tail -n 30 "$LOG_DIR/glance-api-$name.stdio" "$LOG_DIR/glance-api-$name.log" >&2 2>/dev/null || true
        die "glance-api ($name) exited during start; logs in $LOG_DIR"
      fi
    fi
    sleep 0.2
  done
  die "glance-api ($name) not ready after $WAIT_SECS s; logs in $LOG_DIR"
}

write_env() {
  local ceph_conf=$1 name port
  {
    kv GLANCE_DIR "$DIR"
    for name in "${INSTANCES[@]}"; do
      port=$(<"$RUN_DIR/$name.port")
      case $name in
        direct) kv GLANCE_URL "http://127.0.0.1:$port" ;;
        locations) kv GLANCE_LOCATIONS_URL "http://127.0.0.1:$port" ;;
      esac
    done
    kv GLANCE_FILE_STORE "$FILE_STORE"
    kv GLANCE_CEPH_CONF "$ceph_conf"
    kv GLANCE_CEPH_USER "$CEPH_USER"
    kv GLANCE_CEPH_POOL "$CEPH_POOL"
    kv GLANCE_LOG_DIR "$LOG_DIR"
  } >"$ENV_FILE"
}

# --- commands -----------------------------------------------------------------

cmd_start() {
  local ceph_conf=${1:-} keyring= name
  check_binaries
  [[ ! -e $DIR || -z $(ls -A "$DIR" 2>/dev/null) ]] || die "$DIR is not empty"
  mkdir -p "$DIR" "$FILE_STORE" "$LOG_DIR" "$RUN_DIR" "$DIR/staging" "$DIR/tasks" "$DIR/locks" "$DIR/cache"
  if [[ -n $ceph_conf ]]; then
    ceph_conf=$(realpath -m -- "$ceph_conf")
    keyring=$(glance_keyring "$ceph_conf")
  fi
  cp /etc/glance/glance-api-paste.ini "$DIR/glance-api-paste.ini"
  write_policy
  make_db
  for name in "${INSTANCES[@]}"; do
    write_conf "$name" "$DIR/glance-api-$name.conf" "sqlite:///$DB" "$ceph_conf"
    launch "$name" "$keyring"
  done
  if ! { wait_ready direct && wait_ready locations; }; then
    stop_processes
    exit 1
  fi
  write_env "$ceph_conf"
  cat "$ENV_FILE"
}

# client.glance: what Glance's rbd store needs (read, write, snapshots,
# protect) on the images pool, with its key where the conf's
# `keyring = <dir>/ceph.$name.keyring` finds it.
cmd_ceph_user() {
  local ceph_conf keyring
  ceph_conf=$(realpath -m -- "$1")
  [[ -r $ceph_conf ]] || die "the Ceph conf $ceph_conf does not exist (is the cluster up?)"
  keyring=$(glance_keyring "$ceph_conf")
  # Written aside and renamed: the waiting glance-api starts when it appears.
  timeout 60 ceph -c "$ceph_conf" -n client.admin --connect-timeout 60 \
    auth get-or-create "client.$CEPH_USER" mon 'profile rbd' osd "profile rbd pool=$CEPH_POOL" -o "$keyring.tmp" >&2
  chmod 600 "$keyring.tmp"
  mv -f -- "$keyring.tmp" "$keyring"
}

# Where the test cluster's conf (`keyring = <dir>/ceph.$name.keyring`) finds client.glance's key.
glance_keyring() { printf '%s/ceph.client.%s.keyring' "$(dirname -- "$1")" "$CEPH_USER"; }

cmd_env() {
  [[ -r $ENV_FILE ]] || die "no Glance fixture in $DIR"
  cat "$ENV_FILE"
}

cmd_stop() {
  [[ -d $DIR ]] || return 0
  stop_processes
  rm -rf -- "$DIR"
}

main() {
  [[ $# -ge 2 ]] || usage
  local cmd=$1
  if [[ $cmd == ceph-user ]]; then
    cmd_ceph_user "$2"
    return
  fi
  set_paths "$2"
  shift 2
  case $cmd in
    start) cmd_start "$@" ;;
    env) cmd_env ;;
    stop) cmd_stop ;;
    *) usage ;;
  esac
}

main "$@"
