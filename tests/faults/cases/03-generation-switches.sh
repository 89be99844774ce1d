# SPDX-License-Identifier: Apache-2.0
FAULT="generation switches under probe traffic"
EXPECTED="0 mixed: 0 allowed lost, 0 blocked leaked"

# Two policies that treat the probe ports differently, built so that a packet classified
# with one generation's source table and the other's port table (a torn switch) would be
# dropped by rule "x", which neither generation drops the allowed probes with:
#   A: x = src 10.99.1.1/32 (the client) and dst port 9003
#   B: x = src 10.99.1.77/32 (nobody)    and dst port 9001 (the allowed probe)
# Every allowed probe (10.99.1.1 -> 9001) passes in A and in B, and is dropped only by a
# mix. The blocked probe (9002) is dropped by both; a leak would be a mix the other way.
fault_case() {
	local n=$((FAULTS_FULL ? 1000 : 40)) i rev t0 t1 switches=0
	FLOW_RATE=${FLOW_RATE_SWITCH:-500}
	fault_lab || return 1
	for g in A B; do
		if [ $g = A ]; then src=10.99.1.1/32 port=9003; else src=10.99.1.77/32 port=$FLOW_ALLOW; fi
		cat >"$LAB_DIR/$g.yaml" <<YAML
rules:
  - name: block-probe
    priority: 10
    match: { proto: udp, dst_ports: [$FLOW_BLOCK] }
    action: drop
  - name: x
    priority: 20
    match: { proto: udp, src: [$src], dst_ports: [$port] }
    action: drop
  - name: count-lab
    priority: 1
    match: { src: [10.99.1.0/24, 10.99.3.0/24] }
    action: count
YAML
	done
	flow_start || return 1
	t0=$SECONDS
	for i in $(seq 1 "$n"); do
		g=$([ $((i % 2)) = 1 ] && echo A || echo B)
		ctl apply -f "$LAB_DIR/$g.yaml" -m "switch $i" >/dev/null || { observe "apply $i failed"; break; }
		rev=$(newest_revision)
		lab_wait 20 "gw1 at revision $rev" agent_synced gw1 "$rev" || { observe "gw1 never reached revision $rev"; break; }
		switches=$((switches + 1))
	done
	t1=$SECONDS
	flow_stop || return 1
	say "$switches switches in $((t1 - t0)) s"
	flow_verdict || return 1
	observe "$switches/$n switches in $((t1 - t0)) s"
	[ "$switches" -eq "$n" ]
}
