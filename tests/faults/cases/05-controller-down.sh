# SPDX-License-Identifier: Apache-2.0
FAULT="controller SIGKILL (full: and SIGSTOP)"
EXPECTED="enforcement unchanged; capped jittered backoff; no reload"

# backoff_check LOG: the reconnect attempts gw1 logged (at debug level) wait a random
# time within a ceiling that doubles up to the cap (10 s) and never beyond it.
backoff_check() {
	/usr/bin/python3 - "$1" <<'PY'
import re, sys
att = [(int(d), int(c)) for d, c in re.findall(r"next in (\d+) ms \(ceiling (\d+) ms\)", open(sys.argv[1]).read())]
ceil = [c for _, c in att]
ok = (len(att) >= 3 and all(d <= c for d, c in att) and max(ceil) <= 10000
      and all(b >= a for a, b in zip(ceil, ceil[1:])) and len(set(d for d, _ in att)) > 1)
print("%d retries, waits %s ms, ceiling %d ms" % (len(att), ",".join(str(d) for d, _ in att[:8]), max(ceil, default=0)))
sys.exit(0 if ok else 1)
PY
}

# outage SIGNAL SECONDS: the controller is stopped or killed for SECONDS, then back.
outage() {
	local sig=$1 secs=$2
	if [ "$sig" = STOP ]; then
		kill -STOP "${LAB_PID[controller]}"
		sleep "$secs"
		kill -CONT "${LAB_PID[controller]}"
	else
		lab_kill controller KILL
		sleep "$secs"
		lab_start_controller || return 1
	fi
	lab_wait 30 "gw1 back in sync after SIG$sig" agent_synced gw1 "$BASE_REV"
}

fault_case() {
	local applied_before applied_after bo rc=0
	fault_lab --log-level debug || return 1
	flow_start || return 1
	sleep 1
	applied_before=$(grep -c "applied revision" "$LAB_DIR/gw1.log")
	outage KILL $((FAULTS_FULL ? 40 : 15)) || { observe "gw1 did not resync after SIGKILL"; rc=1; }
	if [ "$FAULTS_FULL" = 1 ]; then
		outage STOP 25 || { observe "gw1 did not resync after SIGSTOP"; rc=1; }
	fi
	sleep 1
	flow_stop || return 1
	applied_after=$(grep -c "applied revision" "$LAB_DIR/gw1.log")
	flow_verdict || rc=1
	bo=$(backoff_check "$LAB_DIR/gw1.log") || rc=1
	observe "$bo"
	observe "reloads after reconnect: $((applied_after - applied_before))"
	[ "$applied_after" -eq "$applied_before" ] || rc=1
	return $rc
}
