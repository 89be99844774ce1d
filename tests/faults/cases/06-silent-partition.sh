# SPDX-License-Identifier: Apache-2.0
FAULT="silent partition of the management link"
EXPECTED="OFFLINE within 10 s keepalive bound; converges"

# nftables in gw1's namespace drops every packet on its management interface, both ways:
# no FIN, no RST, the stream just goes quiet. The controller must notice within the
# keepalive bound; a revision applied meanwhile must reach gw1 once the link heals, and
# the datapath keeps enforcing throughout.
partition() {
	in_ns gw1 nft -f - <<NFT
table inet sluice_fault {
	chain in { type filter hook input priority 0; iifname "mgmt" drop; }
	chain out { type filter hook output priority 0; oifname "mgmt" drop; }
}
NFT
}
heal() { in_ns gw1 nft delete table inet sluice_fault; }
agent_offline() { [ "$(agent_field gw1 'd["state"]')" = OFFLINE ]; }

fault_case() {
	local t0 t_off new rc=0
	fault_lab || return 1
	flow_start || return 1
	sleep 1
	partition || { observe "nft could not partition the link"; return 1; }
	t0=$(date +%s.%N)
	if lab_wait 30 "controller marks gw1 OFFLINE" agent_offline; then
		t_off=$(since "$t0")
	else
		t_off=never
	fi
	sed 's/name: count-lab/name: count-lab-v2/' "$LAB_DIR/base.yaml" >"$LAB_DIR/v2.yaml"
	ctl apply -f "$LAB_DIR/v2.yaml" -m "during the partition" >/dev/null || observe "apply during the partition failed"
	new=$(newest_revision)
	sleep $((FAULTS_FULL ? 20 : 2))
	heal
	t0=$(date +%s.%N)
	lab_wait 40 "gw1 converges to revision $new" agent_synced gw1 "$new" || { observe "gw1 did not converge"; rc=1; }
	local t_conv
	t_conv=$(since "$t0")
	flow_stop || return 1
	flow_verdict || rc=1
	observe "OFFLINE after $t_off s; at revision $new $t_conv s after healing"
	[ "$t_off" != never ] && awk -v t="$t_off" 'BEGIN { exit !(t <= 10.5) }' || rc=1
	return $rc
}
