# SPDX-License-Identifier: Apache-2.0
FAULT="agent upgrade (link update) under traffic"
EXPECTED="0 leaked, 0 lost; new prog each time, same link"

# An upgrade is a new agent binary whose programs differ from the pinned ones: it loads
# them against the pinned maps and swaps them into the pinned links. --reload-programs
# makes this build do exactly that, so one binary can be "upgraded" N times.
fault_case() {
	local n=$((FAULTS_FULL ? 20 : 5)) i first ids link prog seen_progs=0 same_link=1
	fault_lab || return 1
	first=$(pinned_ids gw1)
	flow_start || return 1
	sleep 1
	for i in $(seq 1 "$n"); do
		lab_kill gw1 TERM
		lab_start_agent gw1 --reload-programs
		lab_wait 20 "upgrade $i of gw1" agent_synced gw1 "$BASE_REV" || { observe "upgrade $i: agent did not resync"; break; }
		ids=$(pinned_ids gw1)
		link=${ids%% *} prog=${ids##* }
		[ "$link" = "${first%% *}" ] || same_link=0
		[ "$prog" != "${prev_prog:-${first##* }}" ] && seen_progs=$((seen_progs + 1))
		prev_prog=$prog
		say "upgrade $i: $ids"
	done
	sleep 1
	flow_stop || return 1
	flow_verdict || return 1
	observe "$seen_progs/$n upgrades swapped the program; link $([ $same_link = 1 ] && echo kept || echo CHANGED)"
	[ "$seen_progs" -eq "$n" ] && [ "$same_link" = 1 ]
}
