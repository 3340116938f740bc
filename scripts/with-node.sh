#!/usr/bin/env bash
# Runs a command with one of the extra Node.js releases first on PATH:
#   bash scripts/with-node.sh 24 npm test
# MAJOR picks the pinned version of that major from scripts/node-versions.sh
# (installed by scripts/install-node.sh, which setup.sh runs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=node-versions.sh
source "$here/node-versions.sh"
major="${1:?usage: with-node.sh MAJOR COMMAND...}"
shift
for version in "${NODE_EXTRA_VERSIONS[@]}"; do
  if [[ ${version%%.*} == "$major" ]]; then
    dir="$NODE_EXTRA_ROOT/$version"
    [[ -x $dir/bin/node ]] || { echo "with-node: Node.js $version is not installed; run scripts/install-node.sh" >&2; exit 1; }
    export PATH="$dir/bin:$PATH"
    # node-gyp builds against this release's own headers, never a download.
    export npm_config_nodedir="$dir"
    exec "$@"
  fi
done
echo "with-node: no pinned Node.js $major in scripts/node-versions.sh" >&2
exit 1
