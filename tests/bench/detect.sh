#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# detect.sh [TRIALS] — the detectors against labelled traffic in the namespace lab (run it
# through tests/bench/run.sh detect). A controller and an agent on gw1; eight benign
# clients make HTTP requests and send datagrams the whole time; after a warm-up (the
# detectors learn the node), each cycle injects, each from a fresh address: a SYN flood,
# a fast port scan, a volume spike, a slow port scan and deprecated-API calls, bounded in
# rate and time, every injection logged with its start and end. The alerts the controller
# stored (`get alerts -o json`) are then matched to injections by type, time and source:
#   recall     injections of a type that raised their alert within 10 s
#   precision  alerts of a type that match one of its injections
#   ttd_s      mean seconds from an injection's start to its alert's first detection
#   false_alerts_per_hour
#              alerts explained by no injection, per hour of (benign) run time
# (a new_talker alert for an attacker's fresh address is explained, not false). A cycle
# is 75 s so node-wide alerts (SYN flood, volume, the deprecated API) close between
# trials and each trial opens its own. Needs root; cleans up what it made.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
trials=${1:-5}
case $trials in '' | *[!0-9]* | 0) echo "usage: detect.sh [TRIALS] (a number from 1)" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then
	echo "detect.sh: needs root (network namespaces, BPF)" >&2
	exit 1
fi
export SLUICE_BIN=${SLUICE_BIN:-$src/build/bin}
source "$src/deploy/lab/lab.sh"
traffic="$src/tests/lib/traffic.py"
warmup=65
cycle=75
pids=()

finish() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	lab_down
}
trap finish EXIT
trap 'exit 1' INT TERM

now_ms() { date +%s%3N; }
log_injection() { echo "$1 $2 $3 $(now_ms)" >>"$LAB_DIR/injections"; } # TYPE SRC START_MS
inject() { # inject TYPE SRC COMMAND...: runs it in the client namespace and logs it
	local type=$1 addr=$2 start
	shift 2
	start=$(now_ms)
	in_ns cli /usr/bin/python3 "$traffic" "$@" >/dev/null 2>&1
	log_injection "$type" "$addr" "$start"
}

lab_up >/dev/null 2>&1
for a in $(seq 20 27) $(seq 100 $((100 + 5 * trials))); do ip -n "$(ns cli)" addr add "10.99.1.$a/24" dev c1; done
lab_start_servers tcp:8080 udp:9000 >/dev/null 2>&1
lab_start_controller >/dev/null 2>&1
lab_start_agent gw1
cat >"$LAB_DIR/policy.yaml" <<'YAML'
rules:
  - name: sample-web
    priority: 10
    match: { proto: tcp, dst_ports: [8080] }
    action: pass
    sample: { one_in: 2 }
    deprecated_paths: ["/v1/"]
YAML
lab_wait 20 "controller" ctl apply -f "$LAB_DIR/policy.yaml" -m bench >/dev/null 2>&1 || exit 1
total=$((warmup + trials * cycle + 15))
echo "detect: warm-up ${warmup}s, then $trials cycles of ${cycle}s (about $((total / 60)) minutes)" >&2

# Benign background for the whole run.
for a in $(seq 20 27); do
	in_ns cli /usr/bin/python3 "$traffic" http "10.99.1.$a" 10.99.2.1 8080 "/v2/items/$a" 3 "$total" >/dev/null 2>&1 &
	pids+=($!)
done
in_ns cli /usr/bin/python3 "$traffic" udpflood 10.99.1.20 10.99.2.1 9000 5 "$total" 64 >/dev/null 2>&1 &
pids+=($!)
run_start=$(now_ms)
sleep "$warmup"

for ((k = 0; k < trials; k++)); do
	t0=$SECONDS
	base=$((100 + 5 * k))
	inject syn_flood "10.99.1.$base" synflood "10.99.1.$base" 10.99.2.1 8082 3000 5
	sleep $((10 - (SECONDS - t0) > 0 ? 10 - (SECONDS - t0) : 0))
	inject port_scan "10.99.1.$((base + 1))" scan "10.99.1.$((base + 1))" 10.99.2.1 1-300 500
	sleep $((20 - (SECONDS - t0) > 0 ? 20 - (SECONDS - t0) : 0))
	inject volume_spike "10.99.1.$((base + 2))" udpflood "10.99.1.$((base + 2))" 10.99.2.1 9000 2500 6 200
	sleep $((35 - (SECONDS - t0) > 0 ? 35 - (SECONDS - t0) : 0))
	inject slow_scan "10.99.1.$((base + 3))" scan "10.99.1.$((base + 3))" 10.99.2.1 3000-3040 4
	sleep $((50 - (SECONDS - t0) > 0 ? 50 - (SECONDS - t0) : 0))
	inject deprecated_api "10.99.1.$((base + 4))" http "10.99.1.$((base + 4))" 10.99.2.1 8080 /v1/orders 5 3
	sleep $((cycle - (SECONDS - t0) > 0 ? cycle - (SECONDS - t0) : 0))
done
sleep 5
run_end=$(now_ms)
ctl -o json get alerts --all --limit 10000 >"$LAB_DIR/alerts.json" 2>/dev/null

/usr/bin/python3 - "$LAB_DIR/alerts.json" "$LAB_DIR/injections" "$run_start" "$run_end" "$trials" <<'PY'
import json, sys
alerts = json.load(open(sys.argv[1]))
inj = []
for line in open(sys.argv[2]):
    t, addr, start, end = line.split()
    inj.append({"type": t, "src": addr, "start": int(start), "end": int(end), "hit": None})
run_start, run_end, trials = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
GRACE_MS = 10000
types = ["port_scan", "slow_scan", "syn_flood", "volume_spike", "deprecated_api"]
attackers = {i["src"] for i in inj}

def matches(a, i):
    if a["type"] != i["type"] or not (i["start"] - 1000 <= a["first_seen_ms"] <= i["end"] + GRACE_MS):
        return False
    if i["type"] in ("port_scan", "slow_scan"):
        return a["subject"] == i["src"]
    if i["type"] == "deprecated_api":
        return i["src"] in a["consumers"]
    return True  # node-wide: the time window says which injection

stats = {t: {"alerts": 0, "tp": 0} for t in types}
false = []
for a in alerts:
    if a["type"] == "new_talker" and a["subject"] in attackers:
        continue  # an attacker's fresh address: explained
    hit = next((i for i in inj if matches(a, i)), None)
    if a["type"] in stats:
        stats[a["type"]]["alerts"] += 1
    if hit:
        stats[a["type"]]["tp"] += 1
        if hit["hit"] is None or a["first_seen_ms"] < hit["hit"]:
            hit["hit"] = a["first_seen_ms"]
    else:
        false.append(a)
out = {}
for t in types:
    mine = [i for i in inj if i["type"] == t]
    hits = [i for i in mine if i["hit"] is not None]
    ttd = [max(0, i["hit"] - i["start"]) / 1000 for i in hits]
    out[t] = {
        "precision": round(stats[t]["tp"] / stats[t]["alerts"], 3) if stats[t]["alerts"] else None,
        "recall": round(len(hits) / len(mine), 3) if mine else None,
        "ttd_s": round(sum(ttd) / len(ttd), 2) if ttd else None,
        "ttd_max_s": round(max(ttd), 2) if ttd else None,
        "trials": len(mine),
    }
hours = (run_end - run_start) / 3600000
print("%-15s %9s %7s %7s %9s" % ("attack", "precision", "recall", "ttd_s", "ttd_max_s"))
for t in types:
    o = out[t]
    print("%-15s %9s %7s %7s %9s" % (t, o["precision"], o["recall"], o["ttd_s"], o["ttd_max_s"]))
for a in false:
    print("false alert: %s %s: %s" % (a["type"], a["subject"], a["summary"]))
print("benign run time %.3f h, %d false alerts" % (hours, len(false)))
print(json.dumps({"bench": "detect", "attacks": {t: {k: out[t][k] for k in ("precision", "recall", "ttd_s")} for t in types},
                  "false_alerts_per_hour": round(len(false) / hours, 2), "false_alerts": len(false),
                  "benign_hours": round(hours, 3), "trials": trials}, separators=(",", ":")))
PY
