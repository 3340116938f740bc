#!/usr/bin/env bash
# The native addon built from source under each extra Node.js release
# (scripts/node-versions.sh): a copy of the checkout's files is compiled with
# that release's node-gyp run and headers, then the native tiers' unit tests
# (image inspection and overlays, block-device operations) run on it with the
# same Node. The binary built once under Node 20 is proven separately: CI runs
# the whole suite with it under every release (`with-node.sh MAJOR npm test`),
# and test-prebuild.sh loads the packed prebuild under each.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=node-versions.sh
source "$root/scripts/node-versions.sh"
cd "$root"

for version in "${NODE_EXTRA_VERSIONS[@]}"; do
  major="${version%%.*}"
  start=$SECONDS
  tmp="$(mktemp -d -t imagebackend-node$major.XXXXXX)"
  trap 'rm -rf "$tmp"' EXIT
  git ls-files -z | xargs -0 tar -cf - | tar -xf - -C "$tmp"
  ln -s "$root/node_modules" "$tmp/node_modules"
  (
    cd "$tmp"
    bash "$root/scripts/with-node.sh" "$major" npx --no-install node-gyp rebuild -j 2 >build.log 2>&1 || { cat build.log >&2; exit 1; }
    built="$(bash "$root/scripts/with-node.sh" "$major" node -p "require('node-gyp-build').path('.')")"
    [[ $built == "$tmp/build/Release/imagebackend.node" ]] || { echo "test-node-versions: loads $built, not the source build" >&2; exit 1; }
    bash "$root/scripts/with-node.sh" "$major" npx --no-install vitest run --project unit test/unit/image test/unit/blockdev
  )
  rm -rf "$tmp"
  trap - EXIT
  echo "test-node-versions: Node.js $version source build passed in $((SECONDS - start)) s"
done
