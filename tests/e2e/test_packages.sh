#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_packages.sh — the Debian packages as an operator gets them. cpack builds the
# sluice-controller, sluice-agent and sluicectl .debs from this build into a temporary
# folder; lintian reports no errors; each package depends on the packages of every
# shared library its binary needs; units, manuals, bash completion, example
# configurations and copyright files are where Debian expects them; systemd-analyze
# accepts the units; every option of each daemon is in its manual and its example
# configuration; and the three packages install with dpkg into a throwaway root whose
# sluicectl then runs. Everything it makes is in one temporary folder, removed at exit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${SLUICE_SRC:-$(cd "$here/../.." && pwd)}
bin=${SLUICE_BIN:-$src/build/bin}
build=$(cd "$bin/.." && pwd)
skip() {
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_packages: $1 (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "test_packages: skipped: $1"; exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg installs files owned by root)"
for tool in cpack lintian dpkg-deb dpkg-shlibdeps systemd-analyze readelf; do
	command -v $tool >/dev/null || skip "$tool missing (run deploy/deps.sh)"
done
[ -f "$build/CPackConfig.cmake" ] || skip "no CPackConfig.cmake in $build"

tmp=$(mktemp -d /tmp/sluice-packages.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then
		echo "ok   - $what"; passed=$((passed + 1))
	else
		echo "FAIL - $what"; failed=$((failed + 1))
	fi
}
pkgs=(sluice-controller sluice-agent sluicectl)
deb() { ls "$tmp"/out/"$1"_*.deb 2>/dev/null | head -n1; }

# --- build --------------------------------------------------------------------------------
# cpack leaves install manifests in the build folder: the ones it adds go again.
manifests=()
for p in "${pkgs[@]}"; do [ -e "$build/install_manifest_$p.txt" ] || manifests+=("$build/install_manifest_$p.txt"); done
cpack --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1
rc=$?
rm -f "${manifests[@]}"
if [ $rc -ne 0 ]; then
	cat "$tmp/cpack.log"
	echo "FAIL - cpack"; exit 1
fi
for p in "${pkgs[@]}"; do
	check "$p: package built" test -s "$(deb "$p")"
	mkdir -p "$tmp/x/$p" && dpkg-deb -x "$(deb "$p")" "$tmp/x/$p"
done

# --- lintian ------------------------------------------------------------------------------
lintian_clean() {
	lintian --fail-on error --tag-display-limit 0 "$@" >"$tmp/lintian.log" 2>&1
	local rc=$?
	sed 's/^/    lintian: /' "$tmp/lintian.log"
	return $rc
}
check "lintian: no errors" lintian_clean "$(deb sluice-controller)" "$(deb sluice-agent)" "$(deb sluicectl)"

# --- contents -----------------------------------------------------------------------------
has() { test -e "$tmp/x/$1/$2" || { echo "    $1 lacks $2"; return 1; }; }
for d in sluice-controller sluice-agent; do
	check "$d: binary, unit, manual, example, copyright, changelog" eval \
		'has $d usr/sbin/$d && has $d lib/systemd/system/$d.service && has $d usr/share/man/man8/$d.8.gz &&
		 has $d usr/share/doc/$d/copyright && has $d usr/share/doc/$d/changelog.gz'
done
check "sluice-controller: example configuration" has sluice-controller usr/share/doc/sluice-controller/examples/controller.yaml
check "sluice-agent: example configuration" has sluice-agent usr/share/doc/sluice-agent/examples/agent.yaml
check "sluicectl: binary, manual, completion, copyright" eval \
	'has sluicectl usr/bin/sluicectl && has sluicectl usr/share/man/man8/sluicectl.8.gz &&
	 has sluicectl usr/share/bash-completion/completions/sluicectl && has sluicectl usr/share/doc/sluicectl/copyright'

# Every library a binary needs comes from a package it depends on.
deps_cover() { # deps_cover PACKAGE BINARY
	local depends lib path owner ok=0
	depends=$(dpkg-deb -f "$(deb "$1")" Depends)
	for lib in $(readelf -d "$tmp/x/$1/$2" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
		path=$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')
		owner=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | head -n1 | cut -d: -f1)
		[ -n "$owner" ] || owner=$(dpkg -S "$path" 2>/dev/null | head -n1 | cut -d: -f1)
		if [ -z "$owner" ] || ! grep -qE "(^|, )$owner( |,|$)" <<<"$depends"; then
			echo "    $1: $lib (from ${owner:-?}) is not covered by Depends: $depends"
			ok=1
		fi
	done
	return $ok
}
check "sluice-controller: Depends cover its libraries" deps_cover sluice-controller usr/sbin/sluice-controller
check "sluice-agent: Depends cover its libraries" deps_cover sluice-agent usr/sbin/sluice-agent
check "sluicectl: Depends cover its libraries" deps_cover sluicectl usr/bin/sluicectl

# systemd-analyze: nothing wrong but what a build host cannot have (the installed binaries).
units_ok() {
	systemd-analyze verify --man=no "$tmp"/x/sluice-*/lib/systemd/system/*.service >"$tmp/verify.log" 2>&1
	if grep -v -e 'is not executable' -e '^\s' "$tmp/verify.log" | grep .; then
		return 1
	fi
	return 0
}
check "systemd-analyze verify: units" units_ok

# Nothing drifts: every option in --help is in the manual and, as a key, in the example.
documented() { # documented DAEMON EXAMPLE
	local opt key man ok=0
	man=$(zcat "$tmp/x/$1/usr/share/man/man8/$1.8.gz")
	for opt in $("$bin/$1" --help | sed -n 's/^  --\([a-z-]*\).*/\1/p'); do
		grep -qF -- "\\-\\-${opt//-/\\-}" <<<"$man" || { echo "    $1(8) lacks --$opt"; ok=1; }
		[ "$opt" = config ] || [ "$opt" = help ] && continue
		key=${opt//-/_}
		grep -qE "^#? ?$key:" "$tmp/x/$1/usr/share/doc/$1/examples/$2" || { echo "    $2 lacks $key"; ok=1; }
	done
	return $ok
}
check "sluice-controller: every option in its manual and example" documented sluice-controller controller.yaml
check "sluice-agent: every option in its manual and example" documented sluice-agent agent.yaml
man_clean() { local w; w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$1" 2>&1 >/dev/null); [ -z "$w" ] || { echo "$w"; return 1; }; }
for p in "${pkgs[@]}"; do
	check "$p(8) renders without warnings" man_clean "$tmp/x/$p/usr/share/man/man8/$p.8.gz"
done

# --- install into a throwaway root ---------------------------------------------------------
root=$tmp/root
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
# --force-depends: the throwaway root has none of the libraries (this host has them).
check "dpkg --root installs the three packages" dpkg --root="$root" --log=/dev/null --force-depends \
	-i "$(deb sluice-controller)" "$(deb sluice-agent)" "$(deb sluicectl)" >"$tmp/dpkg.log" 2>&1 ||
	cat "$tmp/dpkg.log"
for p in "${pkgs[@]}"; do
	check "dpkg knows $p as installed" eval "dpkg --root='$root' -s $p | grep -q '^Status: install ok installed'"
done
version_ok() { local out; out=$("$root/usr/bin/sluicectl" version 2>&1); echo "    $out"; grep -q "0\.1\.0\|$(dpkg-deb -f "$(deb sluicectl)" Version)" <<<"$out"; }
check "sluicectl version runs from the installed root" version_ok
check "sluice-controller --help runs from the installed root" eval "'$root/usr/sbin/sluice-controller' --help | grep -q -- --metrics"
check "sluice-agent --help runs from the installed root" eval "'$root/usr/sbin/sluice-agent' --help | grep -q -- --config"
check "bash completion loads and registers sluicectl" \
	bash -c "source '$root/usr/share/bash-completion/completions/sluicectl' && complete -p sluicectl >/dev/null"
check "dpkg removes them again" dpkg --root="$root" --log=/dev/null -r sluice-controller sluice-agent sluicectl >>"$tmp/dpkg.log" 2>&1
check "nothing of theirs left in the root" test -z "$(find "$root/usr" "$root/lib" -type f 2>/dev/null)"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
