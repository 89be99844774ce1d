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
	libsqlite3-dev libyaml-dev libjansson-dev libssl-dev
	libcmocka-dev
	# run and test
	iproute2 ethtool socat sqlite3 python3 procps xdp-tools
)

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
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
