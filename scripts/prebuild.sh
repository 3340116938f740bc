#!/usr/bin/env bash
# What a release CI job calls (on Debian 12 x64, after scripts/setup.sh):
# builds the N-API addon once with prebuildify and leaves it stripped in
# prebuilds/linux-x64/, where node-gyp-build finds it before trying
# build/Release or compiling. One binary serves every supported Node.js (N-API
# 8). It links none of librbd, librados or liblvm2cmd: the addon opens them
# when first needed (native/dynlib), so the ldd check below only guards libc
# and libstdc++.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

rm -rf prebuilds
npx --no-install prebuildify --napi --strip --tag-libc
found=(prebuilds/linux-x64/*.node)
[[ -f ${found[0]} ]] || { echo "prebuild.sh: no prebuilds/linux-x64/*.node produced" >&2; exit 1; }
for f in "${found[@]}"; do
  echo "prebuild.sh: $f ($(stat -c %s "$f") bytes)"
  # Fail here, not on a user's machine, if a needed library is not linked.
  if ldd "$f" | grep -q 'not found'; then
    ldd "$f" >&2
    echo "prebuild.sh: $f has unresolved libraries" >&2
    exit 1
  fi
done
