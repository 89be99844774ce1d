# SPDX-License-Identifier: Apache-2.0
# lib.sh — what the fault cases share, sourced by run.sh in each case's own subshell
# after deploy/lab/lab.sh. A case file (cases/NN-name.sh) sets FAULT and EXPECTED, and
# defines fault_case, which makes the fault, calls `observe "what happened"` (once or
# more; the row shows them joined) and returns 0 for pass, non-zero for fail.
#
#   FAULTS_FULL   1 for the full version (more iterations, longer outages), else 0
#   FAULTS_SRC    the source tree;  LAB_BIN: the binaries
#
# Traffic (flow_start/flow_stop): from the client namespace through gateway gw1 to the
# server namespace, UDP datagrams with sequence numbers at FLOW_RATE per second to an
# allowed port (FLOW_ALLOW, 9001) and a blocked one (FLOW_BLOCK, 9002, dropped by the
# base policy's rule "block-probe"). flow_stop sets FLOW_SENT, FLOW_LOST (allowed
# datagrams that never arrived) and FLOW_LEAKED (blocked ones that did).

FLOW_ALLOW=9001
FLOW_BLOCK=9002
FLOW_RATE=${FLOW_RATE:-200}
FLOW_MAX_SECONDS=900
FLOW_PY=$FAULTS_SRC/tests/faults/flow.py

observe() { echo "$*" >>"$FAULT_OBSERVED"; }
# since T0: seconds (one decimal) since T0, a `date +%s.%N` value.
since() { awk -v t0="$1" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }'; }
say() { echo "[$(date +%T)] $*" >&2; }

# The base policy: everything passes except UDP to FLOW_BLOCK, and the lab's traffic is
# counted.
fault_base_policy() {
	cat >"$LAB_DIR/base.yaml" <<YAML
rules:
  - name: block-probe
    priority: 10
    match: { proto: udp, dst_ports: [$FLOW_BLOCK] }
    action: drop
  - name: count-lab
    priority: 1
    match: { src: [10.99.1.0/24, 10.99.3.0/24] }
    action: count
YAML
	echo "$LAB_DIR/base.yaml"
}

# agent_json NODE: `describe agent NODE -o json`.
agent_json() { ctl -o json describe agent "$1" 2>/dev/null; }

# agent_field NODE PYEXPR: a field of describe agent's JSON (d is the parsed object).
agent_field() {
	agent_json "$1" | /usr/bin/python3 -c "import json,sys
d = json.load(sys.stdin)
print($2)" 2>/dev/null
}

# agent_synced NODE REV: NODE is SYNCED at revision REV.
agent_synced() {
	[ "$(agent_field "$1" 'd.get("state"), int(d.get("applied_revision", 0))')" = "SYNCED $2" ]
}

# agent_online NODE: the controller has a live stream from NODE.
agent_online() {
	local st
	st=$(agent_field "$1" 'd.get("state")')
	[ -n "$st" ] && [ "$st" != OFFLINE ] && [ "$st" != UNKNOWN ]
}

# newest_revision: the controller's newest revision number.
newest_revision() {
	ctl -o json get revisions 2>/dev/null | /usr/bin/python3 -c 'import json,sys
r = json.load(sys.stdin)
print(max((int(x["revision"]) for x in r), default=0))'
}

# fault_lab [AGENT FLAGS...]: the lab with a controller, gw1's agent (with the extra flags)
# and the base policy applied and in force on gw1; sets BASE_REV.
fault_lab() {
	lab_up || return 1
	lab_start_servers tcp:8080 || return 1
	lab_start_controller || return 1
	lab_start_agent gw1 "$@"
	lab_wait 15 "gw1 connected" agent_online gw1 || return 1
	ctl apply -f "$(fault_base_policy)" -m "fault suite base" >/dev/null || return 1
	BASE_REV=$(newest_revision)
	lab_wait 15 "gw1 at the base revision" agent_synced gw1 "$BASE_REV" || return 1
	lab_wait 10 "TCP through gw1" tcp_ok 10.99.2.1 8080
}

# pinned_ids NODE: "link=<id> prog=<id>" of NODE's XDP link on its client interface.
pinned_ids() {
	local pin="$LAB_BPFFS/$LAB-$1/link_g1a"
	bpftool -j link show pinned "$pin" 2>/dev/null | /usr/bin/python3 -c 'import json,sys
l = json.load(sys.stdin)
print("link=%s prog=%s" % (l["id"], l["prog_id"]))'
}

flow_start() {
	rm -f "$LAB_DIR"/flow-*
	lab_spawn flow-recv srv "$LAB_DIR/flow.log" /usr/bin/python3 "$FLOW_PY" recv "$LAB_DIR/flow-recv" $FLOW_ALLOW $FLOW_BLOCK
	lab_wait 10 "flow receiver" test -e "$LAB_DIR/flow-recv.ready" || return 1
	lab_spawn flow-allow cli "$LAB_DIR/flow.log" /usr/bin/python3 "$FLOW_PY" send 10.99.2.1 $FLOW_ALLOW "$FLOW_RATE" $FLOW_MAX_SECONDS "$LAB_DIR/flow-sent-allow"
	lab_spawn flow-block cli "$LAB_DIR/flow.log" /usr/bin/python3 "$FLOW_PY" send 10.99.2.1 $FLOW_BLOCK "$FLOW_RATE" $FLOW_MAX_SECONDS "$LAB_DIR/flow-sent-block"
}

flow_stop() {
	lab_kill flow-allow TERM
	lab_kill flow-block TERM
	sleep 1 # the last datagrams are still on their way
	lab_kill flow-recv TERM
	local sent_allow sent_block got_allow got_block
	sent_allow=$(cat "$LAB_DIR/flow-sent-allow" 2>/dev/null || echo 0)
	sent_block=$(cat "$LAB_DIR/flow-sent-block" 2>/dev/null || echo 0)
	got_allow=$(awk -v p=$FLOW_ALLOW '$1 == p { print $2 }' "$LAB_DIR/flow-recv" 2>/dev/null)
	got_block=$(awk -v p=$FLOW_BLOCK '$1 == p { print $2 }' "$LAB_DIR/flow-recv" 2>/dev/null)
	FLOW_SENT=$((sent_allow + sent_block))
	FLOW_LOST=$((sent_allow - ${got_allow:-0}))
	FLOW_LEAKED=${got_block:-0}
	say "flow: sent $sent_allow allowed + $sent_block blocked; lost $FLOW_LOST, leaked $FLOW_LEAKED"
	# No traffic at all means the tool, not the datapath, failed.
	[ "$sent_allow" -gt 0 ] && [ "$sent_block" -gt 0 ]
}

# flow_verdict: "N sent, L lost, K leaked" and 0 when nothing was lost or leaked.
flow_verdict() {
	observe "$FLOW_SENT sent, $FLOW_LOST lost, $FLOW_LEAKED leaked"
	[ "$FLOW_LOST" -eq 0 ] && [ "$FLOW_LEAKED" -eq 0 ]
}
