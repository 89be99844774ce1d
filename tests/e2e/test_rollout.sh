#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_rollout.sh — staged rollouts with real agents in the namespace lab: three gateways
# (gw1, gw2 and a third one added for this test), gw2 started with --rule-capacity 2 so it
# cannot hold a 3-rule policy.
#   1. a 3-wave rollout (canary gw1, then gw2, then gw3; by node id) of that policy: gw2
#      refuses it, the rollout FAILS with gw2's reason, gw1 goes back (its traffic too),
#      gw3 is never touched; rollout status -o json and get agents -o json say so;
#   2. a controller SIGKILLed between two waves resumes the rollout after a restart;
#   3. an agent frozen (SIGSTOP) during a rollout: the others finish, it shows OFFLINE,
#      and once thawed it gets the revision its labels select;
#   4. undo, revision diffs, the dry-run plan, and the agent's own admin socket.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${SLUICE_SRC:-$(cd "$here/../.." && pwd)}
if [ "$(id -u)" -ne 0 ]; then
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_rollout: needs root (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "test_rollout: skipped: needs root"; exit 77
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
	if [ -n "${LAB_PID[gw3]:-}" ]; then kill -CONT "${LAB_PID[gw3]}" 2>/dev/null || true; fi
	if [ $failed -gt 0 ] || [ $rc -ne 0 ]; then
		for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 25 "$f"; done
	fi
	lab_down
}
trap finish EXIT
trap 'exit 1' INT TERM

# json EXPRESSION COMMAND...: runs COMMAND (its stdout is JSON as j) and exits with the
# truth of the Python EXPRESSION (helpers: agents, by_node).
json() {
	local expr=$1; shift
	"$@" 2>/dev/null | /usr/bin/python3 -c '
import json, sys
j = json.load(sys.stdin)
by_node = {a["node_id"]: a for a in j["agents"]} if isinstance(j, dict) and "agents" in j else {}
agents = {a["node_id"]: a for a in j if "node_id" in a} if isinstance(j, list) else {}
sys.exit(0 if eval(sys.argv[1]) else 1)' "$expr"
}
# all_at REV [NODES...]: those agents (default all three) SYNCED and running revision REV.
all_at() {
	local rev=$1; shift
	local nodes=${*:-gw1 gw2 gw3}
	json "all(n in agents and agents[n]['state'] == 'SYNCED' and agents[n]['applied_revision'] == $rev for n in '$nodes'.split())" \
		ctl -o json get agents
}
rollout_is() { json "j['state'] == '$2'" ctl -o json rollout status "$1"; }
rollout_id() { ctl -o json rollout status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
applied_in_log() { grep -q "applied revision $2 " "$LAB_DIR/$1.log"; }

lab_up
lab_add_gateway gw3
lab_start_servers tcp:8080 tcp:8081
lab_start_controller
lab_start_agent gw1
lab_start_agent gw2 --rule-capacity 2
lab_start_extra_agent gw3

cat >"$LAB_DIR/v1.yaml" <<'YAML'
rules:
  - { name: block-telnet, priority: 10, match: { proto: tcp, dst_ports: [23] }, action: drop }
  - { name: count-lab, priority: 20, match: { src: 10.99.0.0/16 }, action: count }
YAML
# Three rules (gw2 holds two), one of which drops tcp 8081; rolled out in three waves.
cat >"$LAB_DIR/v2.yaml" <<'YAML'
rules:
  - { name: block-telnet, priority: 10, match: { proto: tcp, dst_ports: [23] }, action: drop }
  - { name: count-lab, priority: 20, match: { src: 10.99.0.0/16 }, action: count }
  - { name: block-8081, priority: 5, match: { proto: tcp, dst_ports: [8081] }, action: drop }
rollout:
  selector: { env: lab }
  canary: 33%
  batch: 33%
  interval: 3s
YAML
cat >"$LAB_DIR/v3.yaml" <<'YAML'
rules:
  - { name: block-telnet, priority: 10, match: { proto: tcp, dst_ports: [23, 2323] }, action: drop }
  - { name: count-lab, priority: 20, match: { src: 10.99.0.0/16 }, action: count }
rollout: { selector: { env: lab }, canary: 33%, batch: 33%, interval: 4s }
YAML
cat >"$LAB_DIR/v4.yaml" <<'YAML'
rules:
  - { name: block-telnet, priority: 10, match: { proto: tcp, dst_ports: [23, 2323, 992] }, action: drop }
YAML

# ---- 0. everyone at revision 1 --------------------------------------------------------------
check "apply v1 (all at once)" ctl apply -f "$LAB_DIR/v1.yaml" -m "v1"
check "three agents SYNCED at revision 1" lab_wait 30 "agents at 1" all_at 1
check "rollout 1 SUCCEEDED" lab_wait 10 "rollout 1" rollout_is 1 SUCCEEDED
check "get agents shows gw2's capacity of 2" lab_wait 15 "gw2's status" \
	json "agents['gw2']['status'] and agents['gw2']['status']['rule_capacity'] == 2" ctl -o json get agents
check "v1: tcp 8081 through gw1 passes" tcp_ok 10.99.2.1 8081

# ---- 1. the failing wave ---------------------------------------------------------------------
check "dry run: 3 waves, gw2 does not fit, gw1 gets +1 rule" \
	json "j['waves'] == 3 and not [p for p in j['plan'] if p['node_id'] == 'gw2'][0]['fits'] and [p for p in j['plan'] if p['node_id'] == 'gw1'][0]['rules']['added'] == 1 and j['revision'] == 2" \
	ctl -o json apply -f "$LAB_DIR/v2.yaml" --dry-run
check "the dry run stored nothing" json "len(j) == 1" ctl -o json get revisions
ctl -o json apply -f "$LAB_DIR/v2.yaml" -m "v2: block 8081" >"$LAB_DIR/apply2.json"
check "apply v2 starts rollout 2, warning that gw2 cannot hold it" \
	json "j['revision'] == 2 and j['rollout_id'] == 2 and any('cannot hold' in w for w in j['warnings'])" cat "$LAB_DIR/apply2.json"
ctl rollout status 2 --watch --interval 500ms >"$LAB_DIR/watch.out" 2>&1 &
watch_pid=$!
check "rollout 2 FAILED" lab_wait 40 "rollout 2 to fail" rollout_is 2 FAILED
wait $watch_pid
check "rollout status --watch exited 1 for a failed rollout" test $? -eq 1
check "--watch printed the waves as they went (piped: one line per change)" \
	grep -q "rollout 2 RUNNING wave 1/3" "$LAB_DIR/watch.out"
check "--watch ended on FAILED" grep -q "rollout 2 FAILED wave 2/3" "$LAB_DIR/watch.out"
ctl -o json rollout status 2 >"$LAB_DIR/rollout2.json"
r2() { json "$1" cat "$LAB_DIR/rollout2.json"; }
check "its reason names gw2 and its refusal" r2 "'gw2' in j['reason'] and 'capacity' in j['reason']"
check "wave 1 (gw1) rolled back, wave 2 (gw2) failed, wave 3 (gw3) never started" \
	r2 "[w['state'] for w in j['waves']] == ['ROLLED_BACK', 'FAILED', 'WAITING']"
check "gw1 acked and was rolled back to revision 1" \
	r2 "by_node['gw1']['state'] == 'ACKED' and by_node['gw1']['rolled_back'] and by_node['gw1']['previous_revision'] == 1"
check "gw2 NACKED with its error" r2 "by_node['gw2']['state'] == 'NACKED' and 'capacity' in by_node['gw2']['error']"
check "gw3 untouched" r2 "by_node['gw3']['state'] == 'WAITING' and not by_node['gw3']['rolled_back']"
check "all three back at revision 1" lab_wait 20 "agents back at 1" all_at 1
check "gw1 ran revision 2 and went back" applied_in_log gw1 2
check "gw3 never got revision 2" not applied_in_log gw3 2
check "gw2 records the refusal as its last error" \
	json "'capacity' in agents['gw2']['last_error']" ctl -o json get agents
check "after rollback: tcp 8081 through gw1 passes again" tcp_ok 10.99.2.1 8081
says_failed() { ctl describe rollout 2 | grep -q "^State: *FAILED (wave 2 of 3)"; }
check "describe rollout says FAILED at wave 2" says_failed

# ---- 2. controller SIGKILLed between waves -------------------------------------------------
check "apply v3 starts rollout 3" json "j['rollout_id'] == 3" ctl -o json apply -f "$LAB_DIR/v3.yaml" -m v3
check "canary gw1 at revision 3" lab_wait 20 "gw1 at 3" all_at 3 gw1
check "rollout 3 is mid-way: gw3 not yet at 3" not all_at 3 gw3
lab_kill controller KILL
lab_start_controller
check "after the restart rollout 3 SUCCEEDED" lab_wait 60 "rollout 3" rollout_is 3 SUCCEEDED
check "all three at revision 3" lab_wait 20 "agents at 3" all_at 3
check "nothing lost: rollout 3 kept its id, waves and author" \
	json "j['id'] == 3 and [w['state'] for w in j['waves']] == ['PASSED'] * 3 and j['message'] == 'v3'" ctl -o json rollout status 3

# ---- 3. a frozen agent during a rollout --------------------------------------------------------
check "apply v4 without a rollout" json "j['revision'] == 4 and j['rollout_id'] == 0" \
	ctl -o json apply -f "$LAB_DIR/v4.yaml" --no-rollout
kill -STOP "${LAB_PID[gw3]}"
check "rollout start 4, all at once, 15s ack timeout" \
	json "j['id'] == 4 and j['state'] == 'RUNNING'" ctl -o json rollout start 4 -l env=lab --ack-timeout 15s -m frozen
check "gw1 and gw2 finish" lab_wait 20 "gw1, gw2 at 4" all_at 4 gw1 gw2
check "the frozen gw3 shows OFFLINE" lab_wait 20 "gw3 offline" json "agents['gw3']['state'] == 'OFFLINE'" ctl -o json get agents
check "rollout 4 SUCCEEDED, gw3 excused as OFFLINE" lab_wait 30 "rollout 4" \
	json "j['state'] == 'SUCCEEDED' and by_node['gw3']['state'] == 'OFFLINE'" ctl -o json rollout status 4
kill -CONT "${LAB_PID[gw3]}"
check "thawed, gw3 gets the revision its labels select" lab_wait 40 "gw3 at 4" all_at 4

# ---- 4. undo, diffs, status from the agent itself ------------------------------------------
check "undo rollout 4: revision 5 with the content of 3" \
	json "j['revision'] == 5 and j['rollout']['revision'] == 5" ctl -o json rollout undo 4
check "all three at revision 5" lab_wait 30 "agents at 5" all_at 5
check "revision 5 has the content of revision 3" \
	json "j['identical']" ctl -o json describe revision 5 --diff 3
check "diff 1 -> 2: block-8081 added" \
	json "j['diff']['summary']['rules']['added'] == 1 and j['diff']['rules']['added'][0]['name'] == 'block-8081'" \
	ctl -o json describe revision 2 --diff 1
check "get rollouts lists five" json "[r['id'] for r in j] == [5, 4, 3, 2, 1]" ctl -o json get rollouts
check "rollout pause of a finished rollout is refused (exit 1)" not ctl rollout pause 2
check "sluicectl --agent unix:PATH status answers without the controller" \
	json "j['node_id'] == 'gw1' and j['applied_revision'] == 5" \
	"$LAB_BIN/sluicectl" --agent "unix:$LAB_DIR/gw1/admin.sock" -o json status

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
