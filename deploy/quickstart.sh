#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# quickstart.sh — sluice's main job, end to end, on one machine: installs what it needs,
# builds, starts a lab of network namespaces (a controller, two gateway agents with XDP,
# a client, a server and two versions of a web API behind gw1), rolls out
# deploy/examples/policy.yaml, sends real traffic through the gateways — inspected by the
# rules, and HTTP to the VIP rewritten to the API's backends by the route — and shows the
# fleet's state, per-rule and per-backend counters. Everything
# speaks mTLS with certificates from deploy/pki.sh (a CA, the controller, one per agent,
# an admin for sluicectl), made in the lab's folder; the audit log shows who did what.
#
#   deploy/quickstart.sh          run it and tear the lab down at the end
#   deploy/quickstart.sh --keep   leave the lab running (prints how to use and stop it)
set -euo pipefail
cd "$(dirname "$0")/.."
keep=0
[ "${1:-}" = --keep ] && keep=1

if [ "$(id -u)" -ne 0 ]; then
	echo "quickstart: run as root (it creates network namespaces and loads XDP programs)" >&2
	exit 1
fi
bash deploy/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
echo "quickstart: built build/bin/{sluice-controller,sluice-agent,sluicectl}"

export SLUICE_BIN=$PWD/build/bin
source deploy/lab/lab.sh
if [ $keep = 0 ]; then
	trap lab_down EXIT
else
	LAB_KEEP_FILES=1
fi

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lab up: controller in $LAB-ctl, agents in $LAB-gw1 and $LAB-gw2, certificates from deploy/pki.sh"
lab_up
lab_start_servers tcp:8080 tcp:8081 tcp:23 udp:9000 udp:9001
# The API behind the VIP 10.99.9.10: v1 and v2 in namespaces of their own behind gw1.
lab_add_backend bk1 gw1 21
lab_add_backend bk2 gw1 22
lab_serve_http bk1 10.99.21.1 8080 v1
lab_serve_http bk2 10.99.22.1 8080 v2
lab_route_vip 10.99.9.0/24 gw1
lab_start_controller
lab_start_agent gw1 --iface bk1 --iface bk2
lab_start_agent gw2
connected() { ctl -o json get agents 2>/dev/null | /usr/bin/python3 -c 'import json,sys; sys.exit(0 if len(json.load(sys.stdin))==2 else 1)'; }
lab_wait 15 "two agents connected" connected
ctl get agents

step "sluicectl apply -f deploy/examples/policy.yaml"
ctl apply -f deploy/examples/policy.yaml -m "quickstart"
synced() { ctl -o json get agents | /usr/bin/python3 -c 'import json,sys; a=json.load(sys.stdin); sys.exit(0 if len(a)==2 and all(x["state"]=="SYNCED" for x in a) else 1)'; }
lab_wait 20 "agents SYNCED" synced

step "traffic from $LAB-cli through both gateways"
show() { if "$@"; then echo "  passed   $*"; else echo "  dropped  $*"; fi; }
for dst in 10.99.2.1 10.99.4.1; do
	for i in 1 2 3; do
		show tcp_ok $dst 8080
		show tcp_ok $dst 8081
		show udp_ok $dst 9000
		show udp_ok $dst 9001
	done
	show tcp_ok $dst 23
done

step "HTTP from $LAB-cli to the VIP 10.99.9.10:80, rewritten by gw1 to the route's backends (90/10)"
in_ns cli /usr/bin/python3 - <<'PY'
import http.client
seen = {}
for _ in range(100):
    c = http.client.HTTPConnection("10.99.9.10", 80, timeout=5)
    try:
        c.request("GET", "/tag")
        r = c.getresponse()
        tag = r.read().decode().strip()
    except OSError as e:
        tag = "error: %s" % e
    c.close()
    seen[tag] = seen.get(tag, 0) + 1
for tag, n in sorted(seen.items()):
    print("  %3d of 100 new connections answered by %s" % (n, tag))
PY

sleep 5 # one status interval, so the counters below are fresh
step "sluicectl get agents"
ctl get agents
step "sluicectl get revisions"
ctl get revisions
step "sluicectl get routes"
ctl get routes
step "sluicectl describe agent gw1 (per-rule and per-backend counters)"
ctl describe agent gw1
step "sluicectl audit (who changed what, with certificate identities)"
ctl audit

if [ $keep = 1 ]; then
	cat <<MSG

The lab stays up. Try:
  ip netns exec $LAB-ctl $LAB_BIN/sluicectl $(lab_tls user-lab-admin) get agents
  (certificates in $LAB_PKI; more with deploy/pki.sh --dir $LAB_PKI operator NAME viewer|operator|admin)
  ip netns exec $LAB-cli socat - TCP:10.99.2.1:8080
Stop it with:
  kill ${LAB_PID[*]}; for n in ${LAB_NS[*]}; do ip netns del $LAB-\$n; done; rm -rf $LAB_BPFFS/$LAB-gw1 $LAB_BPFFS/$LAB-gw2
MSG
fi
