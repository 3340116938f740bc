#!/usr/bin/env bash
# `npm run test:prebuild`: proves the package a user installs from the
# registry loads its prebuilt binary with no compiler and no build/ folder.
#
#  1. scripts/prebuild.sh builds prebuilds/linux-x64/*.node (skip with
#     --no-build to reuse the one present);
#  2. `npm pack` makes the tarball (its `prepare` compiles dist/);
#  3. in a fresh temporary folder, `npm install <tarball>` runs the package's
#     install script (node-gyp-build) with a PATH holding only node, npm and sh:
#     no g++, cc, make or python3, so any attempt to compile fails the install;
#     npm_config_build_from_source=false keeps node-gyp-build on the prebuild;
#  4. asserts node_modules/imagebackend has no build/ folder and that
#     node-gyp-build resolves to the prebuild;
#  5. runs a small program that imports the package, inspects a qcow2 made
#     by qemu-img and connects to a cluster that is not there, expecting typed
#     errors: the binary and its system libraries really load and run; and a
#     CommonJS one that require()s it. Both run under Node 20 and under every
#     extra release pinned in scripts/node-versions.sh: the one N-API binary,
#     built once, loads under all of them.
# Needs the npm registry (for the package's three dependencies) and qemu-img.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=node-versions.sh
source "$root/scripts/node-versions.sh"
start=$SECONDS

tmp="$(mktemp -d -t imagebackend-prebuild.XXXXXX)"
# Leave the checkout as it was: prebuildify replaces build/, and a prebuilds/
# folder left behind would be loaded by the next `npm ci` instead of
# compiling the current sources.
# Absolute paths: the script changes directory before it exits.
had_prebuilds=false
[[ -d $root/prebuilds ]] && had_prebuilds=true
if [[ -f $root/build/Release/imagebackend.node ]]; then
  cp "$root/build/Release/imagebackend.node" "$tmp/addon-backup.node"
fi
restore() {
  if [[ -f $tmp/addon-backup.node ]]; then
    mkdir -p "$root/build/Release" && cp "$tmp/addon-backup.node" "$root/build/Release/imagebackend.node"
  fi
  # KEEP_PREBUILDS=1 keeps them, for a release job's pack:check --release.
  $had_prebuilds || [[ ${KEEP_PREBUILDS:-0} == 1 ]] || rm -rf "$root/prebuilds"
  rm -rf "$tmp"
}
trap restore EXIT

[[ ${1:-} == --no-build ]] || bash scripts/prebuild.sh
ls prebuilds/linux-x64/*.node >/dev/null
npm pack --silent --pack-destination "$tmp" >/dev/null
tarball=("$tmp"/imagebackend-*.tgz)
echo "test-prebuild: packed $(basename "${tarball[0]}") ($(stat -c %s "${tarball[0]}") bytes)"

# The only programs the install can run.
mkdir -p "$tmp/bin" "$tmp/app"
for tool in node npm sh env; do ln -s "$(command -v "$tool")" "$tmp/bin/$tool"; done
qemu-img create -q -f qcow2 "$tmp/app/disk.qcow2" 1M
printf '[global]\nmon_host = 127.0.0.1:9\nauth_client_required = none\n' >"$tmp/app/bogus.conf"

cat >"$tmp/app/check.mjs" <<'JS'
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { ImageBackendError, RbdCluster, inspect } from 'imagebackend';

const require = createRequire(import.meta.url);
const pkgRoot = dirname(require.resolve('imagebackend/package.json'));
const gypBuild = require(require.resolve('node-gyp-build', { paths: [pkgRoot] }));
const binary = gypBuild.path(pkgRoot);
if (!/\/prebuilds\/linux-x64\/[^/]+\.node$/.test(binary)) throw new Error(`loaded ${binary}, not a prebuild`);

const info = await inspect('disk.qcow2');
if (info.format !== 'qcow2' || Number(info.virtualSize) !== 1048576 || !info.safety.safe) {
  throw new Error(`unexpected inspect(): ${JSON.stringify(info)}`);
}

async function expectTyped(options, code) {
  try {
    await RbdCluster.connect(options);
  } catch (error) {
    if (error instanceof ImageBackendError && error.code === code && error.errnoName) return error;
    throw error;
  }
  throw new Error(`connect(${JSON.stringify(options)}) succeeded`);
}
const missing = await expectTyped({ cephConf: 'no-such-ceph.conf' }, 'RBD_NOT_FOUND');
const timeout = await expectTyped({ cephConf: 'bogus.conf', connectTimeoutMs: 1000 }, 'RBD_TIMEOUT');
console.log(`check: ${binary}`);
console.log(`check: inspect -> ${info.format} ${info.virtualSize} bytes; connect -> ${missing.code}/${missing.errnoName}, ${timeout.code}/${timeout.errnoName}`);
JS

# CommonJS callers: require() of the ES module package (Node >= 20.19 and
# >= 22.12, what package.json's engines admits).
cat >"$tmp/app/check.cjs" <<'JS'
const { inspect, ImageBackendError, Backend } = require('imagebackend');
if (typeof Backend !== 'function' || !(ImageBackendError.prototype instanceof Error)) throw new Error('require() gave no library');
inspect('disk.qcow2').then((info) => {
  if (info.format !== 'qcow2') throw new Error(`unexpected inspect(): ${JSON.stringify(info)}`);
  console.log(`check.cjs: require('imagebackend') under Node ${process.version} -> ${info.format}`);
});
JS

cd "$tmp/app"
echo '{ "name": "prebuild-check", "version": "1.0.0", "private": true, "type": "module" }' >package.json
(
  export PATH="$tmp/bin"
  export npm_config_build_from_source=false
  for tool in g++ c++ cc gcc clang make python3 python; do
    if command -v "$tool" >/dev/null; then echo "test-prebuild: $tool is reachable; the check would prove nothing" >&2; exit 1; fi
  done
  npm install --ignore-scripts=false --prefer-offline --no-audit --no-fund --loglevel=error "${tarball[0]}"
  installed=node_modules/imagebackend
  [[ -f $installed/package.json ]] || { echo "test-prebuild: not installed" >&2; exit 1; }
  if [[ -e $installed/build ]]; then
    echo "test-prebuild: $installed/build exists: the install compiled instead of using the prebuild" >&2
    exit 1
  fi
  node check.mjs
  node check.cjs
  for version in "${NODE_EXTRA_VERSIONS[@]}"; do
    extra="$NODE_EXTRA_ROOT/$version/bin/node"
    [[ -x $extra ]] || { echo "test-prebuild: Node.js $version is not installed (scripts/install-node.sh)" >&2; exit 1; }
    "$extra" check.mjs
    "$extra" check.cjs
  done
)
echo "test-prebuild: ok in $((SECONDS - start)) s"
