# SPDX-License-Identifier: Apache-2.0
FAULT="controller SIGKILL under apply stream"
EXPECTED="integrity ok; every acknowledged write kept"

# apply_storm (tests/faults/apply_storm.c) makes 4 clients apply distinct policies as
# fast as the controller answers and logs every acknowledged write (sequence number,
# revision, hash), while gw1 and gw2 hold their streams and report status. The
# controller is SIGKILLed in the middle of the stream (short: once, in 2,000 writes;
# full: 3 times, in 10,000), its database checked with PRAGMA integrity_check as the
# kill left it, and restarted; the storm carries on. At the end every acknowledged
# revision must be stored with the hash that was acknowledged, and both agents must
# run the newest revision.

acked() { cat "$LAB_DIR/acks" 2>/dev/null | wc -l; }
acked_at_least() { [ "$(acked)" -ge "$1" ]; }

# kill_at N: SIGKILL the controller once N writes were acknowledged, check the database
# as the kill left it, restart.
kill_at() {
	local n=$1 check
	lab_wait 120 "$n acknowledged writes" acked_at_least "$n" || return 1
	lab_kill controller KILL
	KILLED_AT+=("$(acked)")
	check=$(sqlite3 "$LAB_DIR/controller.db" 'PRAGMA integrity_check' 2>&1)
	say "controller killed after $(acked) acknowledged writes; integrity_check: $check"
	[ "$check" = ok ] || INTEGRITY_BAD=1
	lab_start_controller || return 1
}

# acks_kept: every acknowledged (revision, hash) is stored; prints a summary.
acks_kept() {
	ctl --timeout 60s -o json get revisions >"$LAB_DIR/revisions.json" || return 1
	/usr/bin/python3 - "$LAB_DIR/acks" "$LAB_DIR/revisions.json" <<'PY'
import json, sys
stored = {int(r["revision"]): r["hash"] for r in json.load(open(sys.argv[2]))}
acks = [l.split() for l in open(sys.argv[1]) if l.strip()]
missing = [a for a in acks if stored.get(int(a[1])) != a[2]]
revs = [int(a[1]) for a in acks]
print("%d acknowledged, %d missing or changed, %d stored" % (len(acks), len(missing), len(stored)))
for a in missing[:5]:
    print("missing: seq %s revision %s hash %s (stored: %s)" % (a[0], a[1], a[2][:12], stored.get(int(a[1]), "none")[:12]), file=sys.stderr)
sys.exit(1 if missing or len(set(revs)) != len(revs) else 0)
PY
}

fault_case() {
	local total kills k summary newest t0 rc=0
	KILLED_AT=() INTEGRITY_BAD=0
	total=$((FAULTS_FULL ? 10000 : 2000))
	kills=$((FAULTS_FULL ? 3 : 1))
	fault_lab || return 1
	lab_start_agent gw2
	lab_wait 15 "gw2 connected" agent_online gw2 || return 1
	# shellcheck disable=SC2046 # the TLS flags are words
	lab_spawn storm ctl "$LAB_DIR/storm.log" "$LAB_BIN/apply_storm" --controller 127.0.0.1:$LAB_PORT \
		$(lab_tls user-lab-operator) --log "$LAB_DIR/acks" --clients 4 --count "$total"
	for k in $(seq 1 "$kills"); do
		kill_at $((total * k / (kills + 1))) || { observe "the storm stalled before kill $k"; return 1; }
	done
	lab_wait 300 "the storm to finish" bash -c "! kill -0 ${LAB_PID[storm]} 2>/dev/null" ||
		{ observe "the storm did not finish: $(acked) acknowledged"; return 1; }
	wait "${LAB_PID[storm]}" || rc=1
	unset "LAB_PID[storm]"
	say "$(tail -n 1 "$LAB_DIR/storm.log")"
	observe "killed at ${KILLED_AT[*]} of $total acks; integrity_check $([ "$INTEGRITY_BAD" = 0 ] && echo ok || echo FAILED)"
	[ "$INTEGRITY_BAD" = 0 ] || rc=1
	summary=$(acks_kept) || rc=1
	observe "${summary:-cannot read the revisions}"
	newest=$(newest_revision)
	t0=$(date +%s.%N)
	# An agent that fell behind works through the updates queued on its stream in turn
	# (seen: ~1 minute after 10,000 applies), hence the long wait.
	if lab_wait 240 "gw1 at revision $newest" agent_synced gw1 "$newest" &&
		lab_wait 240 "gw2 at revision $newest" agent_synced gw2 "$newest"; then
		observe "gw1, gw2 SYNCED at $newest $(since "$t0") s after the storm"
	else
		observe "agents did not converge to $newest"
		rc=1
	fi
	return $rc
}
