#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_detect.sh — inspection in user space with real traffic in the namespace lab: a
# controller and an agent on gw1, a policy that samples web traffic, marks /v1/
# deprecated and asks the port-scan detector for a temporary drop rule. After a benign
# warm-up (the detectors learn), from the client namespace: HTTP requests to /v1/, a
# port scan and a SYN flood, each from its own address and bounded in rate and time.
# Checked through sluicectl: `get alerts -o json` has each alert with its evidence,
# `alerts --watch` streamed them, `get apiusage` names the consumer of /v1/, the scanner
# was dropped by a mitigation rule that the audit log shows and that goes away on expiry,
# and an acknowledged alert leaves the list.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${SLUICE_SRC:-$(cd "$here/../.." && pwd)}
if [ "$(id -u)" -ne 0 ]; then
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_detect: needs root (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "test_detect: skipped: needs root"; exit 77
fi
export SLUICE_BIN=${SLUICE_BIN:-$src/build/bin}
source "$src/deploy/lab/lab.sh"
traffic="$src/tests/lib/traffic.py"

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
	[ -n "${watch_pid:-}" ] && kill "$watch_pid" 2>/dev/null && wait "$watch_pid" 2>/dev/null
	[ -n "${bg_pid:-}" ] && kill "$bg_pid" 2>/dev/null && wait "$bg_pid" 2>/dev/null
	if [ $failed -gt 0 ] || [ $rc -ne 0 ]; then
		for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 40 "$f"; done
	fi
	lab_down
}
trap finish EXIT
trap 'exit 1' INT TERM

# alerts_json: the open alerts, as a script reads them.
alerts_json() { ctl -o json get alerts --all 2>/dev/null; }
# has_alert TYPE SUBJECT [PYTHON-CONDITION on a]: an alert of TYPE about SUBJECT from gw1.
has_alert() {
	alerts_json | /usr/bin/python3 -c '
import json, sys
t, subj, cond = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "True"
for a in json.load(sys.stdin):
    if a["type"] == t and a["subject"] == subj and a["node_id"] == "gw1" and eval(cond):
        sys.exit(0)
sys.exit(1)' "$@"
}
from() { # from ADDR DST PORT: a TCP connection from ADDR gets "ok" back
	[ "$(in_ns cli timeout 3 socat -T2 - TCP:"$2:$3",connect-timeout=2,bind="$1" </dev/null 2>/dev/null)" = ok ]
}

lab_up
# Lab-only addresses for each role, inside the client namespace.
for a in 10 11 12; do ip -n "$(ns cli)" addr add 10.99.1.$a/24 dev c1; done
lab_start_servers tcp:8080 tcp:8081
lab_start_controller
lab_start_agent gw1

cat >"$LAB_DIR/policy.yaml" <<'YAML'
rules:
  - name: sample-web
    priority: 10
    match: { proto: tcp, dst_ports: [8080] }
    action: pass
    sample: { one_in: 1, snaplen: 256 }
    deprecated_paths: ["/v1/"]
  - name: count-lab
    priority: 100
    match: { src: 10.99.0.0/16 }
    action: count
detectors:
  port_scan: { mitigate: { action: drop, ttl: 20s } }
YAML
check "apply the monitoring policy" ctl apply -f "$LAB_DIR/policy.yaml" -m "detect"
synced() { ctl -o json get agents 2>/dev/null | grep -q '"state": "SYNCED"'; }
check "gw1 SYNCED" lab_wait 20 "gw1 synced" synced

ctl -o json alerts --watch >"$LAB_DIR/watch.jsonl" 2>"$LAB_DIR/watch.err" &
watch_pid=$!

# Benign warm-up: the flood detectors judge against a learned baseline (30 s of it).
in_ns cli /usr/bin/python3 "$traffic" http 10.99.1.1 10.99.2.1 8080 /v2/orders 5 40 >/dev/null &
bg_pid=$!
sleep 35

# Deprecated API: a consumer of /v1/.
in_ns cli /usr/bin/python3 "$traffic" http 10.99.1.12 10.99.2.1 8080 /v1/orders/17 5 3 >/dev/null
check "deprecated_api alert names the consumer" lab_wait 15 "deprecated alert" \
	has_alert deprecated_api "api 10.99.2.1:8080 /v1/" '"10.99.1.12" in a["consumers"]'
usage_v1() {
	ctl -o json get apiusage --route 10.99.2.1:8080 --since 10m 2>/dev/null | /usr/bin/python3 -c '
import json, sys
rows = json.load(sys.stdin)
ok = any(r["consumer"] == "10.99.1.12" and r["path_prefix"] == "/v1/orders/{id}" and r["deprecated"] and r["requests"] >= 5 for r in rows)
ok = ok and any(r["consumer"] == "10.99.1.1" and r["path_prefix"] == "/v2/orders" and not r["deprecated"] for r in rows)
sys.exit(0 if ok else 1)'
}
check "get apiusage shows who calls /v1/ (and /v2/)" lab_wait 20 "api usage" usage_v1

# A fast port scan from .10: alerted with evidence, then dropped by a temporary rule.
check "scanner reaches 8080 before the scan" from 10.99.1.10 10.99.2.1 8080
in_ns cli /usr/bin/python3 "$traffic" scan 10.99.1.10 10.99.2.1 1-400 400 >/dev/null
check "port_scan alert for 10.99.1.10 with distinct ports" lab_wait 10 "scan alert" \
	has_alert port_scan 10.99.1.10 'a["metrics"]["distinct_ports"] >= 100 and a["severity"] == "high"'
check "the scan alert carries an active mitigation" lab_wait 10 "mitigation" \
	has_alert port_scan 10.99.1.10 'a["mitigation"] and a["mitigation"]["active"] and a["mitigation"]["match"] == "src 10.99.1.10/32"'
check "mitigation drops the scanner" not from 10.99.1.10 10.99.2.1 8080
check "mitigation leaves other clients alone" from 10.99.1.1 10.99.2.1 8080
mitigation_listed() { ctl get rules 2>/dev/null | grep -A3 "Temporary mitigation" | grep -q "src 10.99.1.10/32"; }
check "get rules shows the temporary rule as such" mitigation_listed
audited() { ctl -o json audit 2>/dev/null | grep -q "\"action\": \"$1\""; }
check "mitigation is in the audit log" lab_wait 10 "audit" audited mitigate

# A SYN flood from .11 (raw SYNs, 3000/s for 4 s).
in_ns cli /usr/bin/python3 "$traffic" synflood 10.99.1.11 10.99.2.1 8081 3000 4 >/dev/null
check "syn_flood alert with baseline and top source" lab_wait 10 "syn flood alert" \
	has_alert syn_flood node 'a["metrics"]["syn_per_s"] > 1000 and a["baseline"] and a["top_sources"][0]["addr"] == "10.99.1.11"'

watched() { grep -q "\"type\":\"$1\"" "$LAB_DIR/watch.jsonl"; }
check "alerts --watch streamed the port scan" lab_wait 10 "watch scan" watched port_scan
check "alerts --watch streamed the SYN flood" lab_wait 10 "watch flood" watched syn_flood

# Acknowledge: gone from the default list, kept with --all.
id=$(alerts_json | /usr/bin/python3 -c 'import json,sys; print([a["id"] for a in json.load(sys.stdin) if a["type"] == "syn_flood"][0])')
check "alerts ack $id" ctl alerts ack "$id"
open_ids() { ctl -o json get alerts 2>/dev/null | /usr/bin/python3 -c 'import json,sys; print(" ".join(str(a["id"]) for a in json.load(sys.stdin)))'; }
check "an acknowledged alert leaves get alerts" not grep -qw "$id" <<<"$(open_ids)"

# The mitigation expires (ttl 20 s after the last detection): traffic passes again.
check "after expiry the scanner passes again" lab_wait 40 "expiry" from 10.99.1.10 10.99.2.1 8080
check "expiry is in the audit log" lab_wait 10 "expire audit" audited mitigate-expire

echo "test_detect: $passed passed, $failed failed"
[ $failed -eq 0 ]
