#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh — runs an interop script (security.js, control.js) with @grpc/grpc-js,
# installing the pinned packages (package-lock.json) from npm into a folder outside the
# source tree first when they are not there yet.
#
#   tests/interop/run.sh [--netns NS] SCRIPT ARGS...   (node SCRIPT ARGS... with the packages)
#
# --netns runs node inside that network namespace (the install itself runs outside it,
# where the registry is reachable).
#
# SLUICE_INTEROP_DIR: where node_modules goes (default: $SLUICE_BIN/../interop, else
# /tmp/sluice-interop). Exit 1 when node or npm is missing or the install fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${SLUICE_INTEROP_DIR:-${SLUICE_BIN:+$SLUICE_BIN/../interop}}
dir=${dir:-/tmp/sluice-interop}
netns=
if [ "${1:-}" = --netns ]; then
	netns=$2; shift 2
fi
script=$1; shift

for tool in node npm; do
	command -v "$tool" >/dev/null || { echo "interop: $tool is missing (run deploy/deps.sh)" >&2; exit 1; }
done
if ! cmp -s "$here/package-lock.json" "$dir/package-lock.json" || [ ! -d "$dir/node_modules/@grpc/grpc-js" ]; then
	mkdir -p "$dir"
	cp "$here/package.json" "$here/package-lock.json" "$dir/"
	if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1); then
		echo "interop: npm ci in $dir failed:" >&2
		tail -n 20 "$dir/npm.log" >&2
		exit 1
	fi
fi
if [ -n "$netns" ]; then
	exec ip netns exec "$netns" env NODE_PATH="$dir/node_modules" node --no-deprecation "$here/$script" "$@"
fi
NODE_PATH=$dir/node_modules exec node --no-deprecation "$here/$script" "$@"
