#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh [--full] [CASE...] — sluice's fault-injection suite.
#
# Each case (tests/faults/cases/NN-name.sh) makes one fault in a lab of its own (network
# namespaces, deploy/lab/lab.sh) with real traffic where the datapath is concerned, and
# the suite prints one row per case: fault, expected, observed, pass/fail. The exit
# status is 0 only when every case passed.
#
#   --full     the full version: every case at its full size (e.g. 1,000 generation
#              switches, 20 upgrades, 10,000 writes); without it the short version that
#              CI runs (ctest faults/short)
#   CASE       case numbers to run (e.g. 1 3 12); default: all
#
# Needs root. A case's log is printed when it fails; FAULTS_KEEP=1 keeps every log in
# FAULTS_DIR (default: a temporary directory).
set -uo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
export FAULTS_SRC=$src FAULTS_FULL=0
want=()
for a in "$@"; do
	case $a in
	--full) FAULTS_FULL=1 ;;
	-h | --help) sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*[!0-9]* | '') echo "run.sh: '$a' is neither --full nor a case number; see --help" >&2; exit 2 ;;
	*) want+=("$((10#$a))") ;;
	esac
done

if [ "$(id -u)" -ne 0 ]; then
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "faults: needs root (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "faults: skipped: needs root"; exit 77
fi
export SLUICE_BIN=${SLUICE_BIN:-$src/build/bin}
for b in sluice-controller sluice-agent sluicectl; do
	[ -x "$SLUICE_BIN/$b" ] || { echo "faults: $SLUICE_BIN/$b is missing; build first (cmake --build build)" >&2; exit 1; }
done

dir=${FAULTS_DIR:-$(mktemp -d /tmp/sluice-faults.XXXXXX)}
mkdir -p "$dir"

row() { printf '%-3s %-40s %-44s %-52s %s\n' "$@"; }
row "#" "fault" "expected" "observed" "result"
failed=0
for file in "$src"/tests/faults/cases/[0-9]*.sh; do
	name=$(basename "$file" .sh)
	num=$((10#${name%%-*}))
	if [ ${#want[@]} -gt 0 ] && [[ " ${want[*]} " != *" $num "* ]]; then
		continue
	fi
	log="$dir/$name.log"
	observed="$dir/$name.observed"
	: >"$observed"
	# shellcheck disable=SC1090,SC1091
	(
		export FAULT_OBSERVED=$observed
		LAB_DIR=$(mktemp -d "/tmp/sluice-fault$num.XXXXXX")
		source "$src/deploy/lab/lab.sh"
		source "$src/tests/faults/lib.sh"
		source "$file"
		trap 'lab_down' EXIT
		trap 'exit 1' INT TERM
		fault_case
	) >"$log" 2>&1
	rc=$?
	# shellcheck disable=SC1090
	meta=$(FAULTS_SRC=$src bash -c 'source "$1" >/dev/null 2>&1; printf "%s\n%s" "$FAULT" "$EXPECTED"' _ "$file")
	fault=$(sed -n 1p <<<"$meta")
	expected=$(sed -n 2p <<<"$meta")
	obs=$(paste -sd '|' "$observed" | sed 's/|/; /g')
	if [ $rc -eq 0 ]; then
		result=pass
	else
		result=FAIL
		failed=$((failed + 1))
	fi
	row "$num" "$fault" "$expected" "${obs:-(nothing observed, see log)}" "$result"
	if [ $rc -ne 0 ]; then
		sed 's/^/    | /' "$log" | tail -n 60
	fi
done
if [ "${FAULTS_KEEP:-0}" != 1 ] && [ -z "${FAULTS_DIR:-}" ]; then
	rm -rf "$dir"
else
	echo "faults: logs in $dir"
fi
[ $failed -eq 0 ] || { echo "faults: $failed case(s) failed"; exit 1; }
echo "faults: all cases passed"
