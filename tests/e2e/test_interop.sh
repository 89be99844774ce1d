#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_interop.sh — the control API from another language. A lab controller with one agent
# (gw1), both over the lab's mTLS certificates, is driven by tests/interop/control.js:
# @grpc/grpc-js with the project's .proto files loaded at run time, none of our C code.
# It lists agents, applies a policy, follows the rollout to success and watches alerts.
# Both daemons run with --log-format json, and their logs are checked to be JSON lines
# that carry the ids that matter: the agent's node id and live revision, and on the
# controller's lines about a rollout or an agent's stream, the rollout, revision and node. Everything the lab makes is removed at exit (lab_down).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${SLUICE_SRC:-$(cd "$here/../.." && pwd)}
if [ "$(id -u)" -ne 0 ]; then
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_interop: needs root (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "test_interop: skipped: needs root"; exit 77
fi
command -v openssl >/dev/null || { echo "test_interop: openssl is missing (run deploy/deps.sh)"; exit 1; }
export SLUICE_BIN=${SLUICE_BIN:-$src/build/bin}
unset LAB_INSECURE
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
finish() {
	local rc=$?
	if [ $failed -gt 0 ] || [ $rc -ne 0 ]; then
		for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
	fi
	lab_down
}
trap finish EXIT
trap 'exit 1' INT TERM

gw1_synced() {
	ctl -o json get agents 2>/dev/null | /usr/bin/python3 -c '
import json, sys
sys.exit(0 if any(a["node_id"] == "gw1" and a["state"] == "SYNCED" for a in json.load(sys.stdin)) else 1)'
}
# Every line of the agent's log is a JSON object with the keys --log-format json promises.
json_log() {
	/usr/bin/python3 - "$LAB_DIR/gw1.log" <<'PY'
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
for l in lines:
    o = json.loads(l)
    assert {"time", "level", "component", "message"} <= o.keys(), l
    assert o["component"] == "sluice-agent" and o["node"] == "gw1", l
# The line saying a revision was applied carries that revision as its own key.
applied = [json.loads(l) for l in lines if "applied revision" in l]
assert applied and all(o["message"].startswith("applied revision %s " % o["revision"]) for o in applied), applied
PY
}
# The controller's lines are JSON too; those of rollout steps carry rollout and revision,
# those of an agent's stream its node.
controller_json_log() {
	/usr/bin/python3 - "$LAB_DIR/controller.log" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for o in lines:
    assert {"time", "level", "component", "message"} <= o.keys() and o["component"] == "sluice-controller", o
started = [o for o in lines if " started by " in o["message"]]
assert started, "no rollout start logged"
for o in started:
    assert o["message"].startswith("rollout %s of revision %s " % (o["rollout"], o["revision"])), o
done = [o for o in lines if o["message"].startswith("rollout ") and "succeeded" in o["message"]]
assert done and all("rollout" in o and "revision" in o for o in done), done
states = [o for o in lines if o["message"].startswith("agent 'gw1': ")]
assert states and all(o.get("node") == "gw1" for o in states), states
PY
}
interop() {
	bash "$src/tests/interop/run.sh" --netns "$LAB-ctl" control.js 127.0.0.1:$LAB_PORT "$LAB_PKI" \
		>"$LAB_DIR/interop.out" 2>&1
	local rc=$?
	sed 's/^/    /' "$LAB_DIR/interop.out"
	return $rc
}

lab_up
lab_start_controller --log-format json
lab_start_agent gw1 --log-format json
check "gw1 connects over mTLS" lab_wait 20 "gw1 synced" gw1_synced
check "@grpc/grpc-js: list agents, apply, rollout status, watch alerts" interop
check "the agent's log is JSON lines carrying node gw1 and its live revision" json_log
check "the controller's log is JSON lines; rollout steps carry rollout and revision, gw1's stream its node" controller_json_log

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
