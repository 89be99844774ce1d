#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh NAME [ARGS] — build if needed and run one benchmark; its last line is one JSON
# object, so results can be compared run to run. Benchmarks need root (BPF).
#   datapath [REPEAT]   inspection ns/packet at 0/100/1k/10k rules vs floor and xdp-filter
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: tests/bench/run.sh NAME [ARGS] (NAME: datapath)}
shift
if [ ! -x "build/bin/bench_$name" ]; then
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build build -j"$(nproc)" --target "bench_$name" >/dev/null
fi
exec "build/bin/bench_$name" "$@"
