#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh NAME [ARGS] — build if needed and run one benchmark; its last line is one JSON
# object, so results can be compared run to run. Benchmarks need root (BPF, file limits).
#   datapath [REPEAT]   inspection ns/packet at 0/100/1k/10k rules vs floor and xdp-filter;
#                       routing rewrite (conntrack hit, new flow) at 1 and 1k routes vs its
#                       floor, and inspection + rewrite chained at 1k rules and 1k routes
#   fanout [--agents N] [--rules R] [--threads T] [--soak A]
#                       ApplyPolicy to the last Ack over N simulated agents (default 10000),
#                       controller RSS and CPU, and with 1% of them frozen; vs a bare
#                       gRPC fan-out measured in the same run
#   events [SECONDS]    sampled events consumed and parsed per second on one core, and
#                       the samples lost; vs the bare ring buffer and the parsers alone
#   detect [TRIALS]     the detectors in the namespace lab: benign background plus
#                       injected attacks (fast and slow port scans, SYN flood, volume
#                       spike, deprecated-API calls); precision, recall and time to detect
#                       per attack type, and false alerts per hour of benign traffic
# SLUICE_BUILD_DIR picks the build directory (default: build).
set -euo pipefail
cd "$(dirname "$0")/../.."
name=${1:?usage: tests/bench/run.sh NAME [ARGS] (NAME: datapath, fanout, events, detect)}
shift
build=${SLUICE_BUILD_DIR:-build}
case $name in
fanout)
	# The controller is part of what is measured: always build it fresh with the bench.
	[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$build" -j"$(nproc)" --target bench_fanout sluice-controller >/dev/null
	exec "$build/bin/bench_fanout" --controller "$build/bin/sluice-controller" "$@"
	;;
detect)
	# A lab benchmark: the daemons and sluicectl are what is measured.
	[ -f "$build/CMakeCache.txt" ] || cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$build" -j"$(nproc)" --target sluice-agent sluice-controller sluicectl >/dev/null
	SLUICE_BIN="$PWD/$build/bin" exec bash tests/bench/detect.sh "$@"
	;;
esac
if [ ! -x "$build/bin/bench_$name" ]; then
	cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$build" -j"$(nproc)" --target "bench_$name" >/dev/null
fi
exec "$build/bin/bench_$name" "$@"
