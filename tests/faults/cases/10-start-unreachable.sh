# SPDX-License-Identifier: Apache-2.0
FAULT="agent starts, controller unreachable"
EXPECTED="last acked policy enforced at READY=1"

# As after a reboot: gw1's agent stops, its pins go (so XDP is detached: a first probe
# checks that blocked datagrams now pass, i.e. the probe can see a hole), the controller
# is down. The agent starts from its state directory alone; the instant it sends READY=1
# a burst of probes goes out: every allowed one must arrive and no blocked one.

# recv_start / recv_count PORT (after recv_stop): the flow receiver in the server namespace.
recv_start() {
	rm -f "$LAB_DIR"/flow-recv*
	lab_spawn flow-recv srv "$LAB_DIR/flow.log" /usr/bin/python3 "$FLOW_PY" recv "$LAB_DIR/flow-recv" $FLOW_ALLOW $FLOW_BLOCK
	lab_wait 10 "flow receiver" test -e "$LAB_DIR/flow-recv.ready"
}
recv_stop() { sleep 1; lab_kill flow-recv TERM; }
recv_count() { awk -v p="$1" '$1 == p { print $2 }' "$LAB_DIR/flow-recv"; }

fault_case() {
	local pins="$LAB_BPFFS/$LAB-gw1" n=200 allow block ready
	fault_lab || return 1
	lab_kill gw1 TERM
	lab_kill controller KILL
	rm -f "$pins"/* && rmdir "$pins" || { observe "cannot remove gw1's pins"; return 1; }

	recv_start || return 1
	in_ns cli /usr/bin/python3 -c '
import socket, sys
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in sys.argv[1:]:
    u.sendto(b"sluice-fault 0", ("10.99.2.1", int(p)))' $FLOW_ALLOW $FLOW_BLOCK
	recv_stop
	if [ "$(recv_count $FLOW_BLOCK)" != 1 ]; then
		observe "a blocked datagram did not pass without the datapath: the probe cannot see a hole"
		return 1
	fi

	recv_start || return 1
	lab_spawn notify cli "$LAB_DIR/notify.log" /usr/bin/python3 "$FAULTS_SRC/tests/faults/notify_probe.py" \
		"$LAB_DIR/notify.sock" 10.99.2.1 $FLOW_ALLOW $FLOW_BLOCK $n "$LAB_DIR/notify.out"
	lab_wait 10 "notify socket" test -S "$LAB_DIR/notify.sock" || return 1
	NOTIFY_SOCKET=$LAB_DIR/notify.sock lab_start_agent gw1
	lab_wait 30 "gw1 READY=1" test -s "$LAB_DIR/notify.out" || { observe "no READY=1 within 30 s"; return 1; }
	recv_stop
	ready=$(cat "$LAB_DIR/notify.out")
	allow=$(recv_count $FLOW_ALLOW) block=$(recv_count $FLOW_BLOCK)
	say "notify: $ready; received allow=$allow block=$block"
	observe "unpinned: probe leaked; READY=1 after $(awk '{ print $2 }' <<<"$ready") s, $(grep -o 'enforcing revision [0-9]*' <<<"$ready")"
	observe "burst at READY: $allow/$n allowed arrived, $block/$n blocked leaked"
	[ "$allow" -eq "$n" ] && [ "$block" -eq 0 ]
}
