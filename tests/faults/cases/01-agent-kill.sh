# SPDX-License-Identifier: Apache-2.0
FAULT="agent SIGKILL under traffic, restart"
EXPECTED="0 lost, 0 leaked; same link and prog ids"

fault_case() {
	local before after
	fault_lab || return 1
	before=$(pinned_ids gw1)
	flow_start || return 1
	sleep 2
	lab_kill gw1 KILL
	say "agent killed; pinned $before"
	sleep $((FAULTS_FULL ? 10 : 3))
	lab_start_agent gw1
	lab_wait 20 "gw1 back at the base revision" agent_synced gw1 "$BASE_REV" || observe "agent did not resync"
	sleep 2
	flow_stop || return 1
	after=$(pinned_ids gw1)
	flow_verdict || return 1
	observe "ids ${before:-none} -> ${after:-none}"
	[ -n "$before" ] && [ "$before" = "$after" ] && agent_synced gw1 "$BASE_REV"
}
