#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh [--seconds N | --minutes N | full] [TARGET...] — build the fuzzers with clang
# (libFuzzer, ASan, UBSan) and run each TARGET (default: all seven — frame http tls dns
# policy_file proto compile) for N seconds (default 20; "full": 10 minutes each, the
# on-demand long run), two at a time under nice, starting from the kept seed corpus
# tests/fuzz/corpus/TARGET/ (make_corpus.sh writes it; inputs found while running stay
# in a temporary folder). Prints one line per target with its number of runs. Exits 0
# when no fuzzer found a crash, a leak or a timeout; else 1, naming the reproducer (left
# under the build dir's artifacts/) and showing the end of the fuzzer's log; 2 on bad usage.
#   SLUICE_FUZZ_BUILD  build folder (default: build-fuzz at the top of the tree)
#   CC                 clang to use (default: clang)
# ctest runs this as fuzz/all with --seconds 20, so CI fuzzes every target on every run.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
all=(frame http tls dns policy_file proto compile)
usage() {
	echo "usage: $0 [--seconds N | --minutes N | full] [TARGET...]  (targets: ${all[*]})" >&2
	exit 2
}
secs=20
targets=()
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) [ $# -ge 2 ] || usage; secs=$2; shift 2 ;;
	--minutes) [ $# -ge 2 ] || usage; case $2 in '' | *[!0-9]*) usage ;; esac; secs=$(($2 * 60)); shift 2 ;;
	full) secs=600; shift ;;
	-h | --help) usage ;;
	-*) usage ;;
	*)
		case " ${all[*]} " in *" ${1#fuzz_} "*) ;; *) echo "run.sh: unknown target '$1'" >&2; usage ;; esac
		targets+=("${1#fuzz_}")
		shift
		;;
	esac
done
case $secs in '' | *[!0-9]* | 0) usage ;; esac
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
build=${SLUICE_FUZZ_BUILD:-$src/build-fuzz}
cc=${CC:-clang}
if ! command -v "$cc" >/dev/null; then
	echo "run.sh: $cc not found: the fuzzers need clang (deploy/deps.sh installs it)" >&2
	exit 1
fi

cmake -S "$src" -B "$build" -DSLUICE_FUZZ=ON -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
nice -n 5 cmake --build "$build" -j"$(nproc)" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/artifacts"

# Longest input per target: a packet's first bytes; a policy file or message; the
# compiler's choices for a few hundred rules.
max_len() {
	case $1 in
	policy_file | proto) echo 4096 ;;
	compile) echo 8192 ;;
	*) echo 512 ;;
	esac
}

run() { # run TARGET
	local t=$1 log=$work/$1.log runs repro
	mkdir -p "$work/$t"
	if ! nice -n 5 "$build/bin/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" \
		"$work/$t" "$src/tests/fuzz/corpus/$t" >"$log" 2>&1; then
		repro=$(grep -o 'Test unit written to .*' "$log" | tail -n 1 | sed 's/^Test unit written to //')
		echo "fuzz_$t: FAILED: reproducer ${repro:-not written (see the log)}; last lines of its log:" >&2
		tail -n 40 "$log" >&2
		echo "fuzz_$t: FAILED, reproducer: ${repro:-none}"
		return 1
	fi
	runs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
	echo "fuzz_$t: ok, ${runs:-?} runs in ${secs}s"
}

status=0
running=0
for t in "${targets[@]}"; do
	if [ $running -ge 2 ]; then
		wait -n || status=1
		running=$((running - 1))
	fi
	run "$t" &
	running=$((running + 1))
done
while [ $running -gt 0 ]; do
	wait -n || status=1
	running=$((running - 1))
done
exit $status
