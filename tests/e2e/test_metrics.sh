#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_metrics.sh — the daemons' Prometheus endpoints as an operator uses them: the lab's
# controller (metrics on 127.0.0.1 in its namespace) and agent gw1 (metrics on its
# management address, reachable from the controller's namespace), both checked with
# `promtool check metrics`, scraped every second by Debian's own prometheus running in
# the controller's namespace, and read back through its HTTP API while real traffic
# makes the per-rule counters grow; then a controller restart shows as an agent
# reconnect. Prometheus, its storage and everything else go with the lab.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${SLUICE_SRC:-$(cd "$here/../.." && pwd)}
if [ "$(id -u)" -ne 0 ]; then
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_metrics: needs root (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "test_metrics: skipped: needs root"; exit 77
fi
for tool in prometheus promtool; do
	if ! command -v $tool >/dev/null; then
		[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_metrics: $tool missing (run deploy/deps.sh)"; exit 1; }
		echo "test_metrics: skipped: $tool missing (run deploy/deps.sh)"; exit 77
	fi
done
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
finish() {
	local rc=$?
	if [ $failed -gt 0 ] || [ $rc -ne 0 ]; then
		for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
	fi
	lab_down
}
trap finish EXIT
trap 'exit 1' INT TERM

CTL_METRICS=127.0.0.1:9464     # inside the controller's namespace
AGENT_METRICS=10.98.1.2:9465   # gw1's management address, routed from ctl
PROM_PORT=$((20000 + RANDOM % 20000))
PROM=http://127.0.0.1:$PROM_PORT

# fetch URL: the body of a GET from inside the controller's namespace.
fetch() {
	in_ns ctl /usr/bin/python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"
}
promtool_ok() { fetch "http://$1/metrics" >"$LAB_DIR/scrape.txt" && promtool check metrics <"$LAB_DIR/scrape.txt"; }
# prom_value QUERY: the (summed) value of an instant query through Prometheus's HTTP API; "none" when empty.
prom_value() {
	in_ns ctl /usr/bin/python3 - "$PROM" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
try:
    r = json.load(urllib.request.urlopen(url, timeout=5))
except Exception:
    print("none"); sys.exit(0)
res = r.get("data", {}).get("result", [])
print("none" if r.get("status") != "success" or not res else sum(float(x["value"][1]) for x in res))
PY
}
# prom_at_least QUERY MIN: the query's value is >= MIN.
prom_at_least() {
	local v; v=$(prom_value "$1")
	[ "$v" != none ] && /usr/bin/python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= float(sys.argv[2]) else 1)' "$v" "$2"
}
agent_synced() { ctl -o json get agents 2>/dev/null | /usr/bin/python3 -c '
import json, sys
a = {x["node_id"]: x for x in json.load(sys.stdin)}
sys.exit(0 if a.get("gw1", {}).get("state") == "SYNCED" else 1)'; }

lab_up
lab_start_servers tcp:8080 tcp:8081
lab_start_controller --metrics "$CTL_METRICS"
lab_start_agent gw1 --metrics "$AGENT_METRICS"

cat >"$LAB_DIR/policy.yaml" <<'YAML'
rules:
  - name: count-lab
    priority: 1
    match: { src: [10.99.1.0/24] }
    action: count
  - name: block-tcp-8081
    priority: 10
    match: { proto: tcp, dst_ports: [8081] }
    action: drop
YAML
check "apply the policy" eval 'ctl apply -f "$LAB_DIR/policy.yaml" -m "metrics test" >/dev/null'
check "gw1 SYNCED" lab_wait 20 "gw1 synced" agent_synced
tcp_ok 10.99.2.1 8080; tcp_ok 10.99.2.1 8081 # every family has a sample before promtool reads it

check "promtool check metrics: controller" promtool_ok "$CTL_METRICS"
check "promtool check metrics: agent" promtool_ok "$AGENT_METRICS"

cat >"$LAB_DIR/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: sluice-controller
    static_configs: [{ targets: ["$CTL_METRICS"] }]
  - job_name: sluice-agent
    static_configs: [{ targets: ["$AGENT_METRICS"] }]
YAML
lab_spawn prometheus ctl "$LAB_DIR/prometheus.log" prometheus --config.file="$LAB_DIR/prometheus.yml" \
	--storage.tsdb.path="$LAB_DIR/prometheus-data" --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn
check "prometheus scrapes the controller" lab_wait 30 "controller target up" prom_at_least 'up{job="sluice-controller"}' 1
check "prometheus scrapes the agent" lab_wait 15 "agent target up" prom_at_least 'up{job="sluice-agent"}' 1

rule='sluice_agent_rule_packets_total{rule="count-lab"}'
check "the count rule's series is in Prometheus" lab_wait 10 "count-lab series" prom_at_least "$rule" 1
before=$(prom_value "$rule")
drops_before=$(prom_value 'sluice_agent_drops_total{reason="drop_rule"}')
for i in $(seq 1 10); do tcp_ok 10.99.2.1 8080; done
for i in 1 2 3; do tcp_ok 10.99.2.1 8081; done
# Ten connections are at least 30 packets through gw1 (SYNs, ACKs, data, FINs).
check "rule packets grow with traffic ($before -> +30)" lab_wait 15 "count-lab grows" \
	prom_at_least "$rule" "$(/usr/bin/python3 -c "print(float('$before') + 30)")"
check "rule bytes grow too" prom_at_least 'sluice_agent_rule_bytes_total{rule="count-lab"}' 1000
check "drops by the drop rule grow ($drops_before)" lab_wait 15 "drops grow" \
	prom_at_least 'sluice_agent_drops_total{reason="drop_rule"}' "$(/usr/bin/python3 -c "print(float('$drops_before') + 3)")"
check "agent: rules used 2 of the capacity" prom_at_least 'sluice_agent_rules_used == 2 and sluice_agent_rules_capacity >= 2' 2
check "agent: revision 1 applied, stream up" prom_at_least 'sluice_agent_applied_revision + sluice_agent_controller_connected' 2
check "agent: interface g1a attached" prom_at_least 'sluice_agent_interface_attached{interface="g1a"}' 1
check "controller: one agent SYNCED" prom_at_least 'sluice_controller_agents{state="synced"}' 1
check "controller: the push was acked and timed" prom_at_least 'sluice_controller_policy_push_duration_seconds_count{result="ack"}' 1
check "controller: ApplyPolicy counted with code OK" prom_at_least 'sluice_controller_rpcs_total{method="ApplyPolicy",code="OK"}' 1
check "controller: database writes timed" prom_at_least 'sluice_controller_store_write_duration_seconds_count{sync="full"}' 1
check "controller: the rollout succeeded" prom_at_least 'sluice_controller_rollouts{state="succeeded"}' 1

# A controller restart: the agent's stream comes back, and counts as a reconnect.
lab_kill controller
lab_start_controller --metrics "$CTL_METRICS"
check "agent reconnect counted" lab_wait 20 "reconnect" prom_at_least 'sluice_agent_controller_reconnects_total' 1
check "agent stream up again" lab_wait 10 "connected" prom_at_least 'sluice_agent_controller_connected' 1

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
