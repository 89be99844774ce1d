#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_examples.sh — the daemons started from deploy/examples/controller.yaml and
# agent.yaml as an operator would lay them out in /etc/sluice (tls/ beside them), over
# mTLS. Two namespaces give the examples' world: the controller's with 10.0.0.1, the
# agent's with eth0 (10.0.0.2). Only machine-specific paths are overridden with flags
# (database, pin and state directories): everything else — listen and metrics addresses,
# node id, labels, interface, TLS files relative to the file — comes from the files.
# Also: READY=1/STOPPING=1 reach $NOTIFY_SOCKET (systemd Type=notify), a repeatable flag
# replaces the file's list, and a bad key or a missing file stops a daemon with one line
# and the documented exit status.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${SLUICE_SRC:-$(cd "$here/../.." && pwd)}
bin=${SLUICE_BIN:-$src/build/bin}
if [ "$(id -u)" -ne 0 ]; then
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_examples: needs root (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "test_examples: skipped: needs root"; exit 77
fi

P=sx$(printf '%04x' $((RANDOM % 65536)))
tmp=$(mktemp -d "/tmp/sluice-examples.XXXXXX")
etc=$tmp/etc/sluice
declare -A pid=()
mounted=0
passed=0 failed=0
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then
		echo "ok   - $what"; passed=$((passed + 1))
	else
		echo "FAIL - $what"; failed=$((failed + 1))
	fi
}
stop() { # stop KEY [SIGNAL]: signals a process this test started and reaps it; its exit status
	local p=${pid[$1]:-} rc=0
	[ -n "$p" ] || return 0
	kill "-${2:-TERM}" "$p" 2>/dev/null
	wait "$p" 2>/dev/null || rc=$?
	unset "pid[$1]"
	return $rc
}
finish() {
	local rc=$? k
	if [ $failed -gt 0 ] || [ $rc -ne 0 ]; then
		for f in "$tmp"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
	fi
	for k in "${!pid[@]}"; do stop "$k" KILL; done
	ip netns del "$P-ctl" 2>/dev/null
	ip netns del "$P-gw" 2>/dev/null
	[ "$mounted" = 1 ] && umount "$tmp/bpffs"
	rm -rf "$tmp"
}
trap finish EXIT
trap 'exit 1' INT TERM

wait_for() { # wait_for SECONDS COMMAND...
	local deadline=$((SECONDS + $1)); shift
	until "$@"; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.2
	done
}
in_ctl() { ip netns exec "$P-ctl" "$@"; }
ctl() { in_ctl "$bin/sluicectl" --controller 127.0.0.1:7443 --tls-cert "$etc/tls/user-ops.crt" \
	--tls-key "$etc/tls/user-ops.key" --tls-ca "$etc/tls/ca.crt" "$@"; }
fetch() { in_ctl /usr/bin/python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1"; }
notified() { grep -q "$2" "$tmp/notify-$1.log" 2>/dev/null; }

# A service manager's notify socket: every datagram becomes a line of notify-NAME.log.
listen_notify() {
	/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "a") as f:
    while True:
        f.write(s.recv(4096).decode().replace("\n", " ") + "\n")
        f.flush()' "$tmp/notify-$1.sock" "$tmp/notify-$1.log" &
	pid[notify-$1]=$!
	wait_for 5 test -S "$tmp/notify-$1.sock"
}

# --- the examples' world ---------------------------------------------------------------
ip netns add "$P-ctl" && ip netns add "$P-gw" || exit 1
ip -n "$P-ctl" link add m0 type veth peer name eth0 netns "$P-gw"
ip -n "$P-ctl" addr add 10.0.0.1/24 dev m0
ip -n "$P-gw" addr add 10.0.0.2/24 dev eth0
for n in ctl gw; do
	ip -n "$P-$n" link set lo up
done
ip -n "$P-ctl" link set m0 up
ip -n "$P-gw" link set eth0 up
mkdir -p "$tmp/bpffs" && mount -t bpf bpf "$tmp/bpffs" && mounted=1

mkdir -p "$etc/tls"
cp "$src/deploy/examples/controller.yaml" "$src/deploy/examples/agent.yaml" "$etc/"
# The certificates the examples name, made as their comments say.
pki() { bash "$src/deploy/pki.sh" --dir "$etc/tls" "$@" >/dev/null; }
pki ca && pki controller ctl-1 10.0.0.1 127.0.0.1 && pki agent gw-1 && pki operator ops admin ||
	{ echo "FAIL - making certificates with deploy/pki.sh"; exit 1; }

# --- controller from controller.yaml ----------------------------------------------------
listen_notify controller
# Straight from ip netns exec (which execs), so $! is the controller itself.
ip netns exec "$P-ctl" env NOTIFY_SOCKET="$tmp/notify-controller.sock" "$bin/sluice-controller" --config "$etc/controller.yaml" \
	--db "$tmp/controller.db" >>"$tmp/controller.log" 2>&1 &
pid[controller]=$!
check "controller tells the service manager READY=1" wait_for 15 notified controller READY=1
check "controller uses the --db flag over the file's db" test -f "$tmp/controller.db"
check "controller serves metrics where the file says (127.0.0.1:9464)" \
	wait_for 5 eval 'fetch http://127.0.0.1:9464/metrics | grep -q "^sluice_controller_build_info"'
check "controller takes mTLS from the file's relative tls/ paths" wait_for 5 ctl get agents

# --- agent from agent.yaml ----------------------------------------------------------------
start_agent() {
	listen_notify agent
	ip netns exec "$P-gw" env NOTIFY_SOCKET="$tmp/notify-agent.sock" "$bin/sluice-agent" --config "$etc/agent.yaml" \
		--pin-dir "$tmp/bpffs/gw-1" --state-dir "$tmp/gw-1" "$@" >>"$tmp/agent.log" 2>&1 &
	pid[agent]=$!
}
agent_is() { # agent_is PYTHON-CONDITION on the agent record a
	ctl -o json get agents 2>/dev/null | /usr/bin/python3 -c '
import json, sys
a = {x["node_id"]: x for x in json.load(sys.stdin)}.get("gw-1")
sys.exit(0 if a and (eval(sys.argv[1])) else 1)' "$1"
}
start_agent
check "agent tells the service manager READY=1" wait_for 15 notified agent READY=1
check "agent attached to the file's interface under the --pin-dir flag" wait_for 5 test -e "$tmp/bpffs/gw-1/link_eth0"
check "agent reached the file's controller (10.0.0.1:7443) over mTLS as gw-1" wait_for 15 agent_is 'a["state"] != "OFFLINE"'
check "agent carries the file's labels (env=prod, zone=eu-1)" \
	agent_is 'a.get("labels") == {"env": "prod", "zone": "eu-1"}'
check "apply the example policy" eval 'ctl apply -f "$src/deploy/examples/policy.yaml" -m "examples test" >/dev/null'
check "agent SYNCED" wait_for 20 agent_is 'a["state"] == "SYNCED"'
check "agent serves metrics where the file says (0.0.0.0:9465)" \
	eval 'fetch http://10.0.0.2:9465/metrics | grep -q "sluice_agent_build_info{.*node=\"gw-1\"} 1"'

# A flag replaces the file's list of a repeatable option.
check "agent stops with status 0 on SIGTERM" stop agent TERM
check "agent said STOPPING=1" notified agent STOPPING=1
stop notify-agent KILL; rm -f "$tmp/notify-agent.sock" "$tmp/notify-agent.log"
start_agent --label env=staging
check "restarted agent READY" wait_for 15 notified agent READY=1
check "--label env=staging replaced the file's labels" wait_for 15 agent_is 'a.get("labels") == {"env": "staging"}'

# Mistakes in a file stop a daemon at once, with the place named.
printf 'controller: 10.0.0.1:7443\nnode_id: gw-1\nifaces: [eth0]\n' >"$tmp/typo.yaml"
out=$("$bin/sluice-agent" --config "$tmp/typo.yaml" 2>&1); rc=$?
check "a misspelt key: exit 2 ($out)" test $rc -eq 2
check "... naming file, line and key" grep -q "typo.yaml:3:.*unknown key 'ifaces'" <<<"$out"
out=$("$bin/sluice-controller" --config "$tmp/none.yaml" 2>&1); rc=$?
check "a missing --config file: exit 1 ($out)" test $rc -eq 1

check "controller stops with status 0 on SIGTERM" stop controller TERM
check "controller said STOPPING=1" notified controller STOPPING=1

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
