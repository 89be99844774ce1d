#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_rewrite.sh — routing rewrite with real TCP: a client namespace makes HTTP requests to
# a VIP through a gateway whose agent translates them (XDP on the client side and on both
# backend links), to two backend namespaces running /usr/bin/python3 -m http.server that
# answer with their tag. Revision 1 splits 90/10; revision 2 sets 50/50 while long-lived
# keep-alive connections are open: those must stay on their backend and keep working,
# and new connections must follow the new split. The agent's route counters must agree.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${SLUICE_SRC:-$(cd "$here/../.." && pwd)}
if [ "$(id -u)" -ne 0 ]; then
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_rewrite: needs root (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "test_rewrite: skipped: needs root"; exit 77
fi
export SLUICE_BIN=${SLUICE_BIN:-$src/build/bin}
source "$src/deploy/lab/lab.sh"

VIP=10.99.9.10
FRESH1=800  # new connections under 90/10: +-5 points is over 4 standard deviations
FRESH2=1600 # new connections under 50/50: +-5 points is near 4 standard deviations
KEEP=24     # long-lived connections opened under 90/10

passed=0 failed=0
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then
		echo "ok   - $what"; passed=$((passed + 1))
	else
		echo "FAIL - $what"; failed=$((failed + 1))
	fi
}
client_pid=
finish() {
	local rc=$?
	[ -n "$client_pid" ] && kill "$client_pid" 2>/dev/null && wait "$client_pid" 2>/dev/null
	if [ $failed -gt 0 ] || [ $rc -ne 0 ]; then
		for f in "$LAB_DIR"/*.log "$LAB_DIR"/phase*.json; do [ -f "$f" ] && { echo "--- $f"; tail -n 30 "$f"; }; done
	fi
	lab_down
}
trap finish EXIT
trap 'exit 1' INT TERM

gw1_at() { # gw1_at REV: gw1 SYNCED at revision REV
	ctl -o json get agents 2>/dev/null | /usr/bin/python3 -c '
import json, sys
a = {x["node_id"]: x for x in json.load(sys.stdin)}.get("gw1")
sys.exit(0 if a and a["state"] == "SYNCED" and int(a["applied_revision"]) == int(sys.argv[1]) else 1)' "$1"
}

policy() { # policy W1 W2
	cat <<YAML
routes:
  - name: web
    frontend: { vip: $VIP, proto: tcp, port: 80 }
    backends:
      - { addr: 10.99.21.1, port: 8080, weight: $1, tag: v1 }
      - { addr: 10.99.22.1, port: 8080, weight: $2, tag: v2 }
YAML
}

# The client: KEEP keep-alive connections and FRESH1 one-request connections, a report, a
# wait for the go file, then one more request on each kept connection and FRESH2 new ones.
cat >"$LAB_DIR/client.py" <<'PY'
import http.client, json, os, sys, time
vip, keep, fresh1, fresh2, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def get(conn):
    conn.request("GET", "/tag")
    r = conn.getresponse()
    body = r.read().decode().strip()
    return body if r.status == 200 else "status-%d" % r.status

def fresh(n):
    split = {}
    for _ in range(n):
        c = http.client.HTTPConnection(vip, 80, timeout=5)
        try:
            t = get(c)
        except Exception as e:
            t = "error-" + type(e).__name__
        c.close()
        split[t] = split.get(t, 0) + 1
    return split

def report(name, data):
    with open(os.path.join(out, name + ".tmp"), "w") as f:
        json.dump(data, f)
    os.rename(os.path.join(out, name + ".tmp"), os.path.join(out, name))

kept, first = [], []
for _ in range(keep):
    c = http.client.HTTPConnection(vip, 80, timeout=5)
    first.append(get(c))
    kept.append(c)
report("phase1.json", {"kept": first, "fresh": fresh(fresh1)})
deadline = time.time() + 90
while not os.path.exists(os.path.join(out, "go")) and time.time() < deadline:
    time.sleep(0.1)
again = []
for c in kept:
    try:
        again.append(get(c))
    except Exception as e:
        again.append("error-" + type(e).__name__)
report("phase2.json", {"kept": again, "fresh": fresh(fresh2)})
PY

# share TAG FILE: percentage of fresh requests that TAG answered (integer), "" if none.
share() {
	/usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[2]))["fresh"]
print(round(100 * s.get(sys.argv[1], 0) / max(1, sum(s.values()))))' "$1" "$2"
}
near() { [ -n "$1" ] && [ "$1" -ge $(($2 - 5)) ] && [ "$1" -le $(($2 + 5)) ]; }
all_answered() { # all_answered FILE: every fresh request got v1 or v2
	/usr/bin/python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))["fresh"]
sys.exit(0 if set(s) <= {"v1", "v2"} else 1)' "$1"
}
kept_same() { # every kept connection answered again, by the backend it had
	/usr/bin/python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1]))["kept"], json.load(open(sys.argv[2]))["kept"]
bad = [(x, y) for x, y in zip(a, b) if x != y or x not in ("v1", "v2")]
print("kept connections: before %s after %s" % (sorted(set(a)), sorted(set(b))))
sys.exit(0 if len(a) == len(b) and not bad else 1)' "$1" "$2"
}
kept_has() { # kept_has TAG FILE: some kept connection is on TAG
	/usr/bin/python3 -c 'import json, sys; sys.exit(0 if sys.argv[1] in json.load(open(sys.argv[2]))["kept"] else 1)' "$1" "$2"
}
# counters_ok: the agent's route counters saw new flows on both backends and replies.
counters_ok() {
	ctl -o json describe agent gw1 2>/dev/null | /usr/bin/python3 -c '
import json, sys
a = json.load(sys.stdin)
routes = (a.get("status") or {}).get("routes") or []
web = [r for r in routes if r.get("name") == "web"]
if not web:
    sys.exit(1)
b = {x["tag"]: x for x in web[0]["backends"]}
ok = all(int(b[t]["new_flows"]) > 0 and int(b[t]["reply_packets"]) > 0 for t in ("v1", "v2"))
sys.exit(0 if ok else 1)'
}

lab_up
lab_add_backend bk1 gw1 21
lab_add_backend bk2 gw1 22
lab_serve_http bk1 10.99.21.1 8080 v1
lab_serve_http bk2 10.99.22.1 8080 v2
lab_route_vip 10.99.9.0/24 gw1
lab_start_controller
lab_start_agent gw1 --iface bk1 --iface bk2

vip_silent() {
	! in_ns cli /usr/bin/python3 -c '
import http.client, sys
c = http.client.HTTPConnection(sys.argv[1], 80, timeout=2)
c.request("GET", "/tag")
c.getresponse()' "$VIP" 2>/dev/null
}
check "no route yet: the VIP does not answer" vip_silent

policy 90 10 >"$LAB_DIR/v1.yaml"
policy 50 50 >"$LAB_DIR/v2.yaml"
check "apply routes 90/10" ctl apply -f "$LAB_DIR/v1.yaml" -m "web 90/10"
check "gw1 SYNCED at revision 1" lab_wait 20 "gw1 at revision 1" gw1_at 1

in_ns cli /usr/bin/python3 "$LAB_DIR/client.py" "$VIP" $KEEP $FRESH1 $FRESH2 "$LAB_DIR" >"$LAB_DIR/client.log" 2>&1 &
client_pid=$!
check "client: $KEEP kept and $FRESH1 new connections through the VIP" lab_wait 60 "phase 1" test -f "$LAB_DIR/phase1.json"
check "90/10: every request answered by a backend" all_answered "$LAB_DIR/phase1.json"
s1=$(share v1 "$LAB_DIR/phase1.json")
check "90/10: v1 answered $s1% of new connections (90 +- 5)" near "$s1" 90

check "apply routes 50/50 with connections open" ctl apply -f "$LAB_DIR/v2.yaml" -m "web 50/50"
check "gw1 SYNCED at revision 2" lab_wait 20 "gw1 at revision 2" gw1_at 2
touch "$LAB_DIR/go"
check "client: second phase done" lab_wait 90 "phase 2" test -f "$LAB_DIR/phase2.json"
check "50/50: kept connections still work, each on the backend it had" kept_same "$LAB_DIR/phase1.json" "$LAB_DIR/phase2.json"
check "50/50: every request answered by a backend" all_answered "$LAB_DIR/phase2.json"
s2=$(share v1 "$LAB_DIR/phase2.json")
check "50/50: v1 answered $s2% of new connections (50 +- 5)" near "$s2" 50
check "agent status: new flows and replies counted for both backends" lab_wait 20 "route counters" counters_ok

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
