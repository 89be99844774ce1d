#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# deps.sh — install every Debian package that building, running and testing sluice need.
# Idempotent: when everything is present it prints one line and changes nothing.
set -euo pipefail

packages=(
	# build
	build-essential cmake pkg-config clang llvm
	libbpf-dev bpftool libelf-dev zlib1g-dev
	libgrpc-dev protobuf-c-compiler libprotobuf-c-dev
	libsqlite3-dev libyaml-dev libjansson-dev libssl-dev libmicrohttpd-dev
	libcmocka-dev
	# run and test
	iproute2 ethtool socat sqlite3 python3 procps xdp-tools
	# metrics and packaging tests: a real Prometheus and promtool; lintian, dpkg-dev
	# (dpkg-shlibdeps), man-db and systemd (systemd-analyze) to check the .debs
	prometheus lintian dpkg-dev man-db systemd openssl
	tmux python3-yaml groff-base # tests/e2e/test_cli.sh: a terminal for live views, YAML and manual checks
	nftables # tests/faults: a silent partition of the management link
)

# tests/interop: @grpc/grpc-js from npm (tests/interop/run.sh installs it) runs on node.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	packages+=(nodejs npm)
fi

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "deps: all ${#packages[@]} packages present"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ${missing[*]}; run this script as root to install them" >&2
	exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Installing must not start services (Debian's prometheus package would start its own
# server on :9090; the tests run theirs): where no policy-rc.d says so already, one does
# for the length of this install.
policy_rc=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy_rc" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy_rc" && chmod 755 "$policy_rc" && made_policy=1
	trap '[ "$made_policy" = 1 ] && rm -f "$policy_rc"' EXIT
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
