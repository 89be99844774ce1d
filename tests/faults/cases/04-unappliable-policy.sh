# SPDX-License-Identifier: Apache-2.0
FAULT="policy over the agent's capacity"
EXPECTED="NACK with reason, sent once; last good enforced"

# gw1 holds at most 3 rules; the base policy has 2. A policy of 5 rules cannot be
# applied: gw1 must NACK it naming the capacity, keep enforcing the base revision (the
# flows show it), and the controller must not send it again — not while the stream
# stays up, and not after gw1 reconnects.
# The controller has gw1's NACK: the reason is on record.
gw1_nacked() {
	[[ $(agent_field gw1 'd["last_error"]') == *capacity* ]]
}

fault_case() {
	local bad nacks err state
	fault_lab --rule-capacity 3 || return 1
	flow_start || return 1
	{
		cat "$LAB_DIR/base.yaml"
		for p in 7001 7002 7003; do
			printf '  - name: extra-%s\n    priority: 30\n    match: { proto: tcp, dst_ports: [%s] }\n    action: drop\n' $p $p
		done
	} >"$LAB_DIR/big.yaml"
	ctl apply -f "$LAB_DIR/big.yaml" -m "too big for gw1" >"$LAB_DIR/apply.out" 2>&1
	bad=$(newest_revision)
	[ "$bad" -gt "$BASE_REV" ] || { observe "the controller stored no new revision"; return 1; }
	lab_wait 20 "gw1 NACKs revision $bad" bash -c "grep -q 'revision $bad rejected' '$LAB_DIR/gw1.log'"
	# The agent logs the rejection a moment before the controller has its NACK. The NACK
	# fails the rollout, which may already have rolled everyone back to the base revision:
	# gw1 then shows SYNCED at the base, else NACKED at it.
	lab_wait 10 "the controller has gw1's NACK" gw1_nacked
	state=$(agent_field gw1 'd["state"], d["applied_revision"]')
	err=$(agent_field gw1 'd["last_error"]')
	say "gw1: $state; last error: $err"
	say "rollout: $(ctl -o json rollout status 2>/dev/null | /usr/bin/python3 -c 'import json,sys
d = json.load(sys.stdin)
print(d["state"], d["reason"][:80])')"
	sleep 3
	lab_kill gw1 TERM
	lab_start_agent gw1 --rule-capacity 3
	lab_wait 20 "gw1 back" agent_online gw1 || return 1
	sleep 3
	flow_stop || return 1
	nacks=$(grep -c "revision $bad rejected" "$LAB_DIR/gw1.log")
	flow_verdict || return 1
	observe "gw1 $state: '${err:0:60}'"
	observe "revision $bad refused $nacks time(s)"
	[ "$nacks" -eq 1 ] && [[ $state == "NACKED $BASE_REV" || $state == "SYNCED $BASE_REV" ]] &&
		[[ $err == *capacity* || $err == *rules* ]] &&
		[ "$(agent_field gw1 'd["applied_revision"]')" = "$BASE_REV" ]
}
