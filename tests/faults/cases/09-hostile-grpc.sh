# SPDX-License-Identifier: Apache-2.0
FAULT="hostile gRPC: bad messages, raw bytes"
EXPECTED="right codes; same pid; gw1 SYNCED; RSS flat"

# tests/faults/hostile_grpc (built with everything) sends oversized, truncated, garbage,
# wrong-type, out-of-range and huge messages to every ControlService method and to
# AgentService.Connect, abuses the agent stream, and opens raw TCP connections with bytes
# that are not TLS or stall in the handshake — all against the lab's controller while gw1
# is connected and traffic flows through it. It checks every status itself.
#
# Memory: the controller's VmRSS is taken after a warm-up of 4 rounds, after half the
# hostile rounds and after all of them (short: 10 rounds, ~1,900 messages in ~15 s; full:
# 120, ~22,500). Measured here: the first rounds lift it to a plateau of 50-70 MB (the
# allocator keeps the arenas that the 16 MiB messages and 2-3 MB requests touched) where
# it swings by up to ~10 MB from round to round and does not climb over 120 rounds.
# A run of 120 rounds once read 52 MB after the warm-up and 73 and 71 MB later: the
# plateau, not a leak; another read 64, then 24 (memory given back), then 51. So the
# test is that the reading after the second half stays within RSS_CLIMB_KB (10 MB) of
# the highest earlier one (a leak keeps climbing: one lost 16 MiB message or 1 KB per
# call context over its ~11,000 calls would show), and that no reading exceeds the
# warm-up one by RSS_LIMIT_KB (32 MB). The hostile agent identity
# is a certificate of its own (node "hostile"), removed from the controller at the end.
HOSTILE_ROUNDS=$((FAULTS_FULL ? 120 : 10))
RSS_LIMIT_KB=$((32 * 1024))
RSS_CLIMB_KB=$((10 * 1024))

hostile() {
	local k=$LAB_PKI
	in_ns ctl "$LAB_BIN/hostile_grpc" --target 127.0.0.1:$LAB_PORT --ca "$k/ca.crt" \
		--user-cert "$k/user-lab-admin.crt" --user-key "$k/user-lab-admin.key" \
		--agent-cert "$k/agent-hostile.crt" --agent-key "$k/agent-hostile.key" \
		--node hostile --other-node gw1 "$@"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

fault_case() {
	local pid rss0 rss1 rss2 peak half r codes total rc=0
	local -a rss=()
	[ -x "$LAB_BIN/hostile_grpc" ] || { observe "no $LAB_BIN/hostile_grpc; build first"; return 1; }
	fault_lab || return 1
	bash "$FAULTS_SRC/deploy/pki.sh" --dir "$LAB_PKI" agent hostile >/dev/null || return 1
	pid=${LAB_PID[controller]}
	flow_start || return 1

	hostile --rounds 4 --stall 0 --seed 1 >"$LAB_DIR/warmup.out" 2>&1 || {
		cat "$LAB_DIR/warmup.out" >&2
		observe "warm-up failed: $(grep -m1 UNEXPECTED "$LAB_DIR/warmup.out")"
		rc=1
	}
	sleep 1
	rss0=$(rss_kb "$pid")
	say "controller $pid: VmRSS $rss0 kB after the warm-up"
	for half in 1 2; do
		# The stalled handshakes go with the second half: their check waits out the
		# controller's 10 s handshake timeout.
		hostile --rounds $((HOSTILE_ROUNDS / 2)) --stall $((half == 2 ? 9 : 0)) --handshake-ms 12000 >"$LAB_DIR/hostile$half.out" 2>&1 || {
			observe "hostile_grpc exited $?: $(grep -m1 UNEXPECTED "$LAB_DIR/hostile$half.out")"
			rc=1
		}
		cat "$LAB_DIR/hostile$half.out" >&2
		sleep 1
		rss[half]=$(rss_kb "$pid")
		say "controller $pid: VmRSS ${rss[half]} kB after half $half"
	done
	rss1=${rss[1]} rss2=${rss[2]}

	flow_stop || return 1
	total=$(cat "$LAB_DIR"/hostile[12].out | awk '/^total:/ { s += $2; u += $4 } END { printf "%d sent, %d unexpected", s, u }')
	codes=$(cat "$LAB_DIR"/hostile[12].out | sed -n 's/^codes: //p' | tr ' ' '\n' | grep -E '^[A-Z_]+=' |
		awk -F= '{ n[$1] += $2 } END { for (k in n) printf "%s=%d\n", k, n[k] }' | sort |
		sed -e 's/INVALID_ARGUMENT/INVALID_ARG/; s/PERMISSION_DENIED/DENIED/; s/RESOURCE_EXHAUSTED/EXHAUSTED/' |
		paste -sd ' ')
	observe "$total"
	observe "$codes"
	if [ -z "$rss2" ] || ! kill -0 "$pid" 2>/dev/null; then
		observe "controller $pid is gone"
		sed 's/^/controller: /' "$LAB_DIR/controller.log" | tail -20 >&2
		return 1
	fi
	observe "pid $pid alive; RSS MB $((rss0 / 1024))->$((rss1 / 1024))->$((rss2 / 1024))"
	for r in "$rss1" "$rss2"; do
		[ $((r - rss0)) -lt "$RSS_LIMIT_KB" ] || { observe "RSS grew $(((r - rss0) / 1024)) MB"; rc=1; }
	done
	peak=$((rss1 > rss0 ? rss1 : rss0))
	[ $((rss2 - peak)) -lt "$RSS_CLIMB_KB" ] || { observe "RSS climbed $(((rss2 - peak) / 1024)) MB above its earlier peak in the 2nd half"; rc=1; }
	ctl get agents >"$LAB_DIR/agents.out" 2>&1 || { observe "get agents failed: $(head -1 "$LAB_DIR/agents.out")"; rc=1; }
	agent_synced gw1 "$BASE_REV" || { observe "gw1 not SYNCED at $BASE_REV"; rc=1; }
	flow_verdict || rc=1
	ctl delete agent hostile >/dev/null 2>&1 || say "could not remove the hostile node from the controller"
	return $rc
}
