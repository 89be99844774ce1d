# SPDX-License-Identifier: Apache-2.0
FAULT="operators applying at once (same base)"
EXPECTED="one stored, others ABORTED; no lost update"

# Each round, N operators (sluicectl apply as lab-operator, at the same moment) apply
# different policies written against the same revision (--base-revision, as apply does
# by itself with the newest it reads). Exactly one must be stored; every other must fail
# (exit 1) with the message to diff again, and store nothing; the newest revision must
# then hold the winner's policy exactly. At the end gw1 runs the last winner.
CONC_N=8

# round_policy ROUND I: a policy of its own (the base plus a rule on port 20000+100*ROUND+I).
round_policy() {
	local f="$LAB_DIR/r$1-op$2.yaml"
	{
		cat "$LAB_DIR/base.yaml"
		printf '  - name: op-%s\n    priority: 40\n    match: { proto: tcp, dst_ports: [%s] }\n    action: drop\n' \
			"$2" $((20000 + 100 * $1 + $2))
	} >"$f"
	echo "$f"
}

# round R: one round; sets ROUND_WINNER (the winning operator) or fails with a reason.
round() {
	local r=$1 base i wins=0 aborted=0 other=0 newest pids=() f
	base=$(newest_revision)
	for i in $(seq 1 $CONC_N); do
		f=$(round_policy "$r" "$i")
		ctl_as lab-operator apply -f "$f" --base-revision "$base" -m "round $r operator $i" \
			>"$LAB_DIR/r$r-op$i.out" 2>"$LAB_DIR/r$r-op$i.err" &
		pids+=($!)
	done
	for i in $(seq 1 $CONC_N); do
		if wait "${pids[$((i - 1))]}"; then
			wins=$((wins + 1))
			ROUND_WINNER=$i
		elif grep -q "changed since revision $base" "$LAB_DIR/r$r-op$i.err" &&
			grep -q "sluicectl diff -f $LAB_DIR/r$r-op$i.yaml" "$LAB_DIR/r$r-op$i.err"; then
			aborted=$((aborted + 1))
		else
			other=$((other + 1))
			say "round $r operator $i failed otherwise: $(cat "$LAB_DIR/r$r-op$i.err")"
		fi
	done
	newest=$(newest_revision)
	say "round $r on base $base: $wins won, $aborted aborted, $other other; newest $newest"
	[ "$wins" -eq 1 ] && [ "$aborted" -eq $((CONC_N - 1)) ] && [ "$other" -eq 0 ] || return 1
	[ "$newest" -eq $((base + 1)) ] || { say "round $r: newest is $newest, not $((base + 1))"; return 1; }
	# No lost update: the newest revision is exactly the winner's policy.
	[ "$(ctl -o json diff -f "$LAB_DIR/r$r-op$ROUND_WINNER.yaml" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["identical"])')" = True ] ||
		{ say "round $r: revision $newest is not operator $ROUND_WINNER's policy"; return 1; }
}

fault_case() {
	local rounds r ok=0 msg
	rounds=$((FAULTS_FULL ? 50 : 3))
	fault_lab || return 1
	for r in $(seq 1 "$rounds"); do
		if round "$r"; then
			ok=$((ok + 1))
		fi
	done
	msg=$(grep -h "changed since" "$LAB_DIR"/r1-op*.err | head -n 1 | sed 's/^sluicectl: error: //')
	say "a loser was told: $msg"
	observe "$ok/$rounds rounds of $CONC_N: 1 stored, $((CONC_N - 1)) ABORTED, newest = winner"
	lab_wait 30 "gw1 at the last winner's revision" agent_synced gw1 "$(newest_revision)" ||
		{ observe "gw1 did not converge"; return 1; }
	observe "gw1 SYNCED at $(newest_revision)"
	[ "$ok" -eq "$rounds" ]
}
