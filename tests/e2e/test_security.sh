#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_security.sh — the lab tried as an attacker would (issue 8). Controller and two agents
# over mTLS with certificates from deploy/pki.sh. Refused, with nothing changed: a client
# whose certificate another CA signed, one with no certificate, one with an expired
# certificate, plaintext to the TLS port, an agent certificate on the control API, node
# gw1's certificate saying Hello as gw2, a viewer applying, an operator removing an agent,
# --insecure on a non-loopback address. Allowed: an operator applying and rolling out, an
# admin removing an agent that is gone. The audit log read back names who did what, when,
# with the hashes before and after, and every refusal the controller saw. Rotation: the
# controller's certificate renewed and SIGHUP'd in the middle of a rollout — the agents'
# streams stay up (SYNCED, no reconnect), the rollout succeeds, new connections get the
# new certificate — and an agent's certificate renewed and SIGHUP'd, its short life
# shown by describe agent and the controller's log, its datapath untouched. The refusals
# are tried again from @grpc/grpc-js (tests/interop), an implementation that shares no
# code with ours.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${SLUICE_SRC:-$(cd "$here/../.." && pwd)}
if [ "$(id -u)" -ne 0 ]; then
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_security: needs root (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "test_security: skipped: needs root"; exit 77
fi
command -v openssl >/dev/null || { echo "test_security: openssl is missing (run deploy/deps.sh)"; exit 1; }
export SLUICE_BIN=${SLUICE_BIN:-$src/build/bin}
unset LAB_INSECURE
source "$src/deploy/lab/lab.sh"
B=$LAB_BIN/sluicectl
PKI=$LAB_PKI

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
has() { grep -qF -- "$2" <<<"$1"; } # has TEXT NEEDLE
finish() {
	local rc=$?
	if [ $failed -gt 0 ] || [ $rc -ne 0 ]; then
		for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
	fi
	lab_down
}
trap finish EXIT
trap 'exit 1' INT TERM

# run EXPECTED_RC COMMAND...: keeps stdout in $out and stderr in $err.
run() {
	local want=$1; shift
	out=$("$@" 2>"$LAB_DIR/stderr"); rc=$?
	err=$(cat "$LAB_DIR/stderr")
	[ "$rc" -eq "$want" ] || { echo "    exit $rc, wanted $want: $*"; echo "$err" | head -3 | sed 's/^/    /'; return 1; }
}
# sluicectl with explicit credentials (cert and key files), in the controller's namespace.
as_files() { local crt=$1 key=$2; shift 2; in_ns ctl "$B" --controller 127.0.0.1:$LAB_PORT --timeout 5s \
	--tls-cert "$crt" --tls-key "$key" --tls-ca "$PKI/ca.crt" "$@"; }
py() { /usr/bin/python3 -c "$@"; }
revisions() { ctl -o json get revisions | py 'import json,sys; print(len(json.load(sys.stdin)))'; }
# agent_field NODE FIELD
agent_field() { ctl -o json describe agent "$1" 2>/dev/null | py 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$2"; }
agents_synced() { # agents_synced REV
	ctl -o json get agents 2>/dev/null | py '
import json, sys
a = {x["node_id"]: x for x in json.load(sys.stdin)}
sys.exit(0 if all(n in a and a[n]["state"] == "SYNCED" and int(a[n]["applied_revision"]) == int(sys.argv[1]) for n in ("gw1", "gw2")) else 1)' "$1"
}
# audit_has ACTION WHO OBJECT-SUBSTRING: a row like that is in the audit log.
audit_has() {
	ctl -o json audit 2>/dev/null | py '
import json, sys
action, who, obj = sys.argv[1:4]
sys.exit(0 if any(r["action"] == action and r["who"] == who and obj in r["object"] for r in json.load(sys.stdin)) else 1)' "$@"
}
server_serial() { # the serial of the certificate the controller presents to a new connection
	(sleep 1) | in_ns gw1 timeout 5 openssl s_client -connect 10.98.1.1:$LAB_PORT -alpn h2 -CAfile "$PKI/ca.crt" \
		-cert "$PKI/agent-gw1.crt" -key "$PKI/agent-gw1.key" 2>/dev/null | openssl x509 -noout -serial 2>/dev/null
}
reconnects() { grep -c "reconnected to controller" "$LAB_DIR/$1.log"; }
handshakes_failed() { grep -c "Handshake failed" "$LAB_DIR/controller.log"; }
# refused_in_handshake BEFORE: the controller logged another failed handshake since.
refused_in_handshake() { lab_wait 5 "a failed handshake" test "$(handshakes_failed)" -gt "$1"; }

lab_up
lab_start_servers tcp:8080 tcp:8081
lab_start_controller
lab_start_agent gw1
lab_start_agent gw2

# ---- the way in ----------------------------------------------------------------------
check "--insecure on 0.0.0.0 refused (exit 2)" run 2 "$LAB_BIN/sluice-controller" --listen 0.0.0.0:17443 --db "$LAB_DIR/x.db" --insecure
check "... saying why and what to do" has "$err" "--insecure refused on --listen 0.0.0.0:17443"
check "--insecure-allow-remote without --insecure: exit 2" run 2 "$LAB_BIN/sluice-controller" --listen 0.0.0.0:17443 \
	--db "$LAB_DIR/x.db" --insecure-allow-remote $(lab_tls controller-ctl)
lab_spawn insecure ctl "$LAB_DIR/insecure.log" "$LAB_BIN/sluice-controller" --listen 0.0.0.0:17443 --db "$LAB_DIR/x.db" \
	--insecure --insecure-allow-remote
check "--insecure --insecure-allow-remote on 0.0.0.0: starts, and warns" \
	lab_wait 10 "insecure warning" grep -qs "warn .*--insecure: plaintext gRPC, no authentication" "$LAB_DIR/insecure.log"
lab_kill insecure
check "controller log: listening with mTLS" grep -q "(port $LAB_PORT, mTLS)" "$LAB_DIR/controller.log"

cat >"$LAB_DIR/v1.yaml" <<'YAML'
rules:
  - name: block-tcp-8081
    priority: 10
    match: { proto: tcp, dst_ports: [8081] }
    action: drop
YAML
cat >"$LAB_DIR/v2.yaml" <<'YAML'
rules:
  - name: block-tcp-8080
    priority: 10
    match: { proto: tcp, dst_ports: [8080] }
    action: drop
rollout:
  canary: 50%
  interval: 4s
YAML

check "operator applies v1" run 0 ctl_as lab-operator apply -f "$LAB_DIR/v1.yaml" -m "by the operator"
check "both agents SYNCED at revision 1 over mTLS" lab_wait 20 "agents at 1" agents_synced 1
check "v1 enforced: tcp 8081 dropped" not tcp_ok 10.99.2.1 8081
hash1=$(ctl -o json get revisions | py 'import json,sys; print(json.load(sys.stdin)[0]["hash"])')

# ---- refusals ------------------------------------------------------------------------
mkdir -p "$LAB_DIR/other"
bash "$src/deploy/pki.sh" --dir "$LAB_DIR/other" ca >/dev/null
bash "$src/deploy/pki.sh" --dir "$LAB_DIR/other" operator mallory admin >/dev/null
n=$(handshakes_failed)
check "foreign CA (O=sluice:admin from another CA): exit 1" run 1 as_files "$LAB_DIR/other/user-mallory.crt" \
	"$LAB_DIR/other/user-mallory.key" apply -f "$LAB_DIR/v2.yaml"
check "... cannot reach the controller" has "$err" "cannot reach the controller"
check "... refused in the TLS handshake" refused_in_handshake "$n"

n=$(handshakes_failed)
check "no client certificate (openssl s_client): the handshake fails" \
	run 1 bash -c "(sleep 1) | ip netns exec $LAB-ctl timeout 5 openssl s_client -connect 127.0.0.1:$LAB_PORT -alpn h2 -CAfile $PKI/ca.crt"
check "... the controller says so" lab_wait 5 "no-cert log" grep -q "peer did not return a certificate" "$LAB_DIR/controller.log"
check "... refused in the TLS handshake" refused_in_handshake "$n"

openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$LAB_DIR/old.key" -out "$LAB_DIR/old.csr" \
	-subj "/O=sluice:admin/CN=former-admin" 2>/dev/null
openssl x509 -req -in "$LAB_DIR/old.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -set_serial 77 -days -1 \
	-out "$LAB_DIR/old.crt" 2>/dev/null
n=$(handshakes_failed)
check "expired certificate (our CA, O=sluice:admin): exit 1" run 1 as_files "$LAB_DIR/old.crt" "$LAB_DIR/old.key" get agents
check "... cannot reach the controller" has "$err" "cannot reach the controller"
check "... sluicectl says the certificate expired" has "$err" "(CN=former-admin) expired at"
check "... refused in the TLS handshake" refused_in_handshake "$n"

check "plaintext to the TLS port: exit 1" run 1 in_ns ctl "$B" --controller 127.0.0.1:$LAB_PORT --timeout 5s --insecure get agents
check "... cannot reach the controller" has "$err" "cannot reach the controller"

check "agent certificate on the control API: exit 1" run 1 as_files "$PKI/agent-gw1.crt" "$PKI/agent-gw1.key" get agents
check "... PERMISSION_DENIED" has "$err" "may not use the control API"

check "viewer applies: exit 1" run 1 ctl_as lab-viewer apply -f "$LAB_DIR/v2.yaml"
check "... not allowed: may only read" has "$err" "may only read"
check "viewer reads" run 0 ctl_as lab-viewer get agents
check "operator removes an agent: exit 1" run 1 ctl_as lab-operator delete agent gw2
check "... admin only" has "$err" "needs sluice:admin"
check "admin removes a connected agent: exit 1" run 1 ctl delete agent gw2
check "... it is connected" has "$err" "is connected"
check "nothing was stored by the refusals" test "$(revisions)" = 1

# The same refusals from an independent gRPC implementation (tests/interop, @grpc/grpc-js).
interop() {
	bash "$src/tests/interop/run.sh" --netns "$LAB-ctl" security.js 127.0.0.1:$LAB_PORT "$PKI" "$LAB_DIR/other" \
		"$LAB_DIR/old.crt" "$LAB_DIR/old.key" >"$LAB_DIR/interop.log" 2>&1
	local rc=$?
	sed 's/^/    /' "$LAB_DIR/interop.log"
	return $rc
}
check "@grpc/grpc-js client: the same refusals, and the audit log has them" interop
check "nothing was stored by the grpc-js client either" test "$(revisions)" = 1

# gw2's agent restarted with gw1's certificate: it says Hello as gw2 with CN=gw1.
gw1_since=$(agent_field gw1 state_since)
lab_kill gw2
lab_start_agent gw2 --tls-cert "$PKI/agent-gw1.crt" --tls-key "$PKI/agent-gw1.key"
check "gw1's certificate as gw2: the agent is refused" lab_wait 15 "impostor refused" \
	grep -q "PERMISSION_DENIED: certificate 'gw1' may not connect as node 'gw2'" "$LAB_DIR/gw2.log"
check "... gw1's own stream was not touched" test "$(agent_field gw1 state_since)" = "$gw1_since"
check "... gw2 is OFFLINE, not served as gw1" test "$(agent_field gw2 state)" = OFFLINE
check "... its datapath still enforces v1" not tcp_ok 10.99.4.1 8081
lab_kill gw2
lab_start_agent gw2
check "gw2 with its own certificate: SYNCED again" lab_wait 20 "gw2 back" agents_synced 1

# ---- least privilege -------------------------------------------------------------------
# The running agent keeps CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON and CAP_SYS_RESOURCE (with
# CAP_SYS_ADMIN instead of the first and third before Linux 5.8) of those it started with,
# and nothing inheritable.
agent_caps_ok() {
	local pid=${LAB_PID[gw1]}
	[ "$(cat "/proc/$pid/comm")" = sluice-agent ] || { echo "    pid $pid is not the agent"; return 1; }
	py '
import sys
def caps(path):
    return {l.split(":")[0]: int(l.split()[1], 16) for l in open(path) if l.startswith("Cap")}
agent, mine = caps(sys.argv[1]), caps("/proc/self/status")
new_bpf = int(open("/proc/sys/kernel/cap_last_cap").read()) >= 39
want = (1 << 12 | 1 << 24 | ((1 << 39 | 1 << 38) if new_bpf else 1 << 21)) & mine["CapPrm"]
bad = [f"{k} {agent[k]:x}, wanted {w:x}" for k, w in
       (("CapPrm", want), ("CapEff", want), ("CapBnd", want), ("CapInh", 0), ("CapAmb", 0)) if agent[k] != w]
print("".join("    " + b + "\n" for b in bad), end="")
sys.exit(1 if bad else 0)' "/proc/$pid/status"
}
check "agent: only the capabilities it needs after start-up" agent_caps_ok
check "agent log says which it kept" grep -q "privileges: kept CAP_BPF CAP_NET_ADMIN CAP_PERFMON" "$LAB_DIR/gw1.log"

# ---- the audit trail -------------------------------------------------------------------
check "audit: the operator's apply" audit_has apply lab-operator "revision 1"
check "audit: the viewer's refused apply" audit_has denied lab-viewer "ControlService/ApplyPolicy"
check "audit: the agent certificate on the control API" audit_has denied gw1 "ControlService/ListAgents"
check "audit: gw1 claiming gw2" audit_has denied gw1 "agent stream as node 'gw2'"
check "audit: the operator's refused removal" audit_has denied lab-operator "ControlService/RemoveAgent"
strangers_in_audit() { ctl -o json audit | grep -q -e mallory -e former-admin; }
check "audit: nothing from the foreign or expired certificates (never got in)" not strangers_in_audit
ctl -o json audit --since 10m >"$LAB_DIR/audit.json"
apply_row() {
	py '
import json, sys, time
rows = [r for r in json.load(open(sys.argv[1])) if r["action"] == "apply" and r["object"] == "revision 1"]
r = rows[0]
t = time.mktime(time.strptime(r["time"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
ok = r["who"] == "lab-operator" and r["detail"] == "by the operator" and r["after_hash"] == sys.argv[2] \
	and r["before_hash"] == "" and abs(time.time() - t) < 600
sys.exit(0 if ok else 1)' "$LAB_DIR/audit.json" "$hash1"
}
check "audit --since 10m: who, what, when, message and hashes of the apply" apply_row
check "audit is readable by a viewer" run 0 ctl_as lab-viewer audit --since 1h

# ---- rotation under a rollout ---------------------------------------------------------
serial_before=$(server_serial)
check "a new connection sees the controller's certificate ($serial_before)" test -n "$serial_before"
r1=$(reconnects gw1) r2=$(reconnects gw2)
check "operator applies v2 with a canary rollout" run 0 ctl_as lab-operator apply -f "$LAB_DIR/v2.yaml" -m "canary"
bash "$src/deploy/pki.sh" --dir "$PKI" --force --days 5 controller ctl 10.98.1.1 10.98.2.1 127.0.0.1 localhost >/dev/null
kill -HUP "${LAB_PID[controller]}"
check "controller reloaded on SIGHUP" lab_wait 5 "reload" grep -q "reloaded the TLS certificate" "$LAB_DIR/controller.log"
check "... and warns that its new certificate expires within 7 days" \
	grep -qE "the controller's certificate .* expires at .*in [45] days" "$LAB_DIR/controller.log"
rollout_done() { ctl rollout status --watch --interval 1s >/dev/null 2>&1; }
check "the rollout succeeds across the reload" rollout_done
check "both agents SYNCED at revision 2" lab_wait 20 "agents at 2" agents_synced 2
check "v2 enforced: tcp 8080 dropped" not tcp_ok 10.99.2.1 8080
check "v2 enforced: tcp 8081 passes" tcp_ok 10.99.2.1 8081
check "no agent stream was dropped (no reconnect)" test "$(reconnects gw1) $(reconnects gw2)" = "$r1 $r2"
serial_after=$(server_serial)
check "a new connection sees the renewed certificate ($serial_after)" \
	test -n "$serial_after" -a "$serial_after" != "$serial_before"
check "sluicectl connects with the renewed certificate" ctl -o name get agents
rollout_row() {
	ctl -o json audit | py '
import json, sys
rows = [r for r in json.load(sys.stdin) if r["action"] == "rollout-start" and r["who"] == "lab-operator"]
sys.exit(0 if rows and rows[0]["before_hash"] == sys.argv[1] and rows[0]["after_hash"] not in ("", sys.argv[1]) else 1)' "$hash1"
}
check "audit: the rollout, by the operator, from v1's hash to v2's" rollout_row

# An agent's certificate renewed for 3 days and SIGHUP'd: reported, warned, datapath untouched.
link_before=$(bpftool -j link show pinned "$LAB_BPFFS/$LAB-gw1/link_g1a" 2>/dev/null | py 'import json,sys; print(json.load(sys.stdin)["id"])')
loads_before=$(grep -c "live in slot" "$LAB_DIR/gw1.log")
bash "$src/deploy/pki.sh" --dir "$PKI" --force --days 3 agent gw1 >/dev/null
kill -HUP "${LAB_PID[gw1]}"
check "agent reloaded on SIGHUP" lab_wait 5 "agent reload" grep -q "reloaded the TLS files" "$LAB_DIR/gw1.log"
soon() { ctl describe agent gw1 2>/dev/null | grep -qE "Certificate: *WARNING: expires .* \(in [23]d, less than 7 days\)"; }
check "describe agent warns: the certificate expires within 7 days" lab_wait 15 "describe warns" soon
check "... and so does the controller's log" grep -qE "agent 'gw1': its certificate expires at .*in [23] days" "$LAB_DIR/controller.log"
check "-o json: cert_expires_soon" test "$(agent_field gw1 cert_expires_soon)" = True
check "the agent's stream stayed up" test "$(reconnects gw1)" = "$r1"
check "its datapath was not touched (same link, no reload)" \
	test "$link_before $(grep -c "live in slot" "$LAB_DIR/gw1.log")" = "$(bpftool -j link show pinned "$LAB_BPFFS/$LAB-gw1/link_g1a" | py 'import json,sys; print(json.load(sys.stdin)["id"])') $loads_before"
lab_kill gw1
lab_start_agent gw1
check "restarted with the renewed certificate: SYNCED" lab_wait 20 "gw1 back" agents_synced 2

# ---- removing an agent that is gone ---------------------------------------------------
lab_kill gw2
gone() { test "$(agent_field gw2 state)" = OFFLINE; }
check "gw2 stopped: OFFLINE" lab_wait 10 "gw2 offline" gone
check "admin removes gw2" run 0 ctl delete agent gw2
listed() { ctl -o name get agents | grep -qx "$1"; }
check "gw2 is forgotten" not listed gw2
check "audit: the removal, by the admin" audit_has agent-remove lab-admin "agent gw2"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
