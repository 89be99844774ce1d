#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_skeleton.sh — the whole path with real packets: controller and two agents in a
# namespace lab, a policy applied with sluicectl, TCP connects and UDP datagrams from
# the client namespace dropped or passed as the policy says, a new revision that flips
# them, an agent SIGKILLed (the drop holds while it is down) and restarted (its pinned
# link is adopted, not re-created), and a bad policy file refused with nothing stored.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${SLUICE_SRC:-$(cd "$here/../.." && pwd)}
if [ "$(id -u)" -ne 0 ]; then
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_skeleton: needs root (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "test_skeleton: skipped: needs root"; exit 77
fi
export SLUICE_BIN=${SLUICE_BIN:-$src/build/bin}
source "$src/deploy/lab/lab.sh"

passed=0 failed=0
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then
		echo "ok   - $what"; passed=$((passed + 1))
	else
		echo "FAIL - $what"; failed=$((failed + 1))
	fi
}
not() { ! "$@"; }
finish() {
	local rc=$?
	if [ $failed -gt 0 ] || [ $rc -ne 0 ]; then
		for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
	fi
	lab_down
}
trap finish EXIT
trap 'exit 1' INT TERM

# agents_at REV: both agents SYNCED at revision REV.
agents_at() {
	ctl -o json get agents 2>/dev/null | /usr/bin/python3 -c '
import json, sys
rev = int(sys.argv[1])
agents = {a["node_id"]: a for a in json.load(sys.stdin)}
ok = all(n in agents and agents[n]["state"] == "SYNCED" and int(agents[n]["applied_revision"]) == rev for n in ("gw1", "gw2"))
sys.exit(0 if ok else 1)' "$1"
}
link_id() { bpftool -j link show pinned "$LAB_BPFFS/$LAB-$1/link_$2" 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
revisions() { ctl -o json get revisions | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

lab_up
lab_start_servers tcp:8080 tcp:8081 udp:9000 udp:9001
lab_start_controller
lab_start_agent gw1
lab_start_agent gw2

check "traffic passes before any policy" tcp_ok 10.99.2.1 8081

cat >"$LAB_DIR/v1.yaml" <<'YAML'
rules:
  - name: block-tcp-8081
    priority: 10
    match: { proto: tcp, dst_ports: [8081] }
    action: drop
  - name: block-udp-9001
    priority: 20
    match: { proto: udp, dst_ports: ["9001-9001"] }
    action: drop
  - name: count-lab
    priority: 1
    match: { src: [10.99.1.0/24, 10.99.3.0/24] }
    action: count
YAML
cat >"$LAB_DIR/v2.yaml" <<'YAML'
rules:
  - name: block-tcp-8080
    priority: 10
    match: { proto: tcp, dst_ports: [8080] }
    action: drop
  - name: block-udp-9000
    priority: 20
    match: { proto: udp, dst: 10.99.0.0/16, dst_ports: [9000] }
    action: drop
YAML

check "apply v1" ctl apply -f "$LAB_DIR/v1.yaml" -m "block 8081 and 9001"
check "both agents SYNCED at revision 1" lab_wait 20 "agents at 1" agents_at 1
for dst in 10.99.2.1 10.99.4.1; do
	check "v1: tcp 8080 to $dst passes" tcp_ok $dst 8080
	check "v1: tcp 8081 to $dst dropped" not tcp_ok $dst 8081
	check "v1: udp 9000 to $dst passes" udp_ok $dst 9000
	check "v1: udp 9001 to $dst dropped" not udp_ok $dst 9001
done

check "apply v2 (flip)" ctl apply -f "$LAB_DIR/v2.yaml" -m "flip"
check "both agents SYNCED at revision 2" lab_wait 20 "agents at 2" agents_at 2
for dst in 10.99.2.1 10.99.4.1; do
	check "v2: tcp 8080 to $dst dropped" not tcp_ok $dst 8080
	check "v2: tcp 8081 to $dst passes" tcp_ok $dst 8081
	check "v2: udp 9000 to $dst dropped" not udp_ok $dst 9000
	check "v2: udp 9001 to $dst passes" udp_ok $dst 9001
done
unchanged() { ctl apply -f "$1" | grep -qi unchanged; }
check "applying v2 again stores nothing" unchanged "$LAB_DIR/v2.yaml"

# Per-rule counters reach the controller through agent status.
counted() {
	ctl -o json describe agent gw1 2>/dev/null | /usr/bin/python3 -c '
import json, sys
a = json.load(sys.stdin)
rules = {r["name"]: int(r["packets"]) for r in a.get("rules", [])}
sys.exit(0 if rules.get("block-tcp-8080", 0) > 0 else 1)'
}
check "describe agent shows the drop rule's packet counter" lab_wait 15 "counters" counted

# SIGKILL an agent: enforcement must hold while it is down and after it restarts.
link_before=$(link_id gw1 g1a)
loads_before=$(grep -c "live in slot" "$LAB_DIR/gw1.log")
lab_kill gw1 KILL
check "agent down: tcp 8080 via gw1 still dropped" not tcp_ok 10.99.2.1 8080
check "agent down: tcp 8081 via gw1 still passes" tcp_ok 10.99.2.1 8081
lab_start_agent gw1
check "restarted agent SYNCED at revision 2" lab_wait 20 "gw1 back" agents_at 2
check "restarted agent adopted its pinned link (id $link_before)" test "$(link_id gw1 g1a)" = "$link_before"
check "after restart: tcp 8080 via gw1 dropped" not tcp_ok 10.99.2.1 8080
check "after restart: tcp 8081 via gw1 passes" tcp_ok 10.99.2.1 8081
check "restarted agent did not reload the unchanged revision" test "$(grep -c "live in slot" "$LAB_DIR/gw1.log")" = "$loads_before"

# Bad input: refused with file, line and field; nothing stored.
before=$(revisions)
printf 'rules:\n  - name: bad\n    match: { proto: tcp, dst_ports: [70000] }\n    action: drop\n' >"$LAB_DIR/bad-port.yaml"
printf 'rules:\n  - name: bad\n    match: { src: 10.0.0.300/8 }\n    action: drop\n' >"$LAB_DIR/bad-cidr.yaml"
printf 'rules:\n  - name: bad\n    colour: red\n    action: drop\n' >"$LAB_DIR/bad-key.yaml"
for f in bad-port bad-cidr bad-key; do
	out=$(ctl apply -f "$LAB_DIR/$f.yaml" 2>&1); rc=$?
	check "$f refused with exit 1" test $rc -eq 1
	check "$f error names file and line ($out)" grep -q "$f.yaml:[0-9]" <<<"$out"
done
check "no revision stored by refused files" test "$(revisions)" = "$before"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
