# SPDX-License-Identifier: Apache-2.0
FAULT="controller database's disk full (tmpfs)"
EXPECTED="clear error; nothing stored or sent; reads ok"

# The controller's database lives in a small tmpfs of this case's own (a private folder,
# unmounted on exit). A filler file takes the rest of its space, and applies of fresh
# policies are made until one fails. That one must fail with a message saying the
# database is full and to free space; it must leave no revision (get revisions), no
# audit row and no update to gw1, which keeps enforcing the last revision that was
# stored (flows); reads (get revisions, get agents, describe agent) must still work.
# Once the filler is gone, an apply is stored and gw1 runs it.
DBFS_SIZE=2m

dbfs_down() {
	lab_down
	if [ -n "${DBFS:-}" ]; then
		umount "$DBFS" 2>/dev/null
		rmdir "$DBFS" 2>/dev/null
	fi
}

# fat_policy N: the base policy and 200 rules of its own (about 10 kB stored).
fat_policy() {
	local f="$LAB_DIR/fat-$1.yaml" i
	{
		cat "$LAB_DIR/base.yaml"
		for i in $(seq 1 200); do
			printf '  - name: fat-%s-%s\n    priority: 50\n    match: { proto: tcp, dst: 10.%s.%s.0/24, dst_ports: [%s] }\n    action: drop\n' \
				"$1" "$i" $((1 + $1 % 200)) "$i" $((10000 + i))
		done
	} >"$f"
	echo "$f"
}

# reads_ok: the read calls still answer.
reads_ok() {
	ctl get revisions >/dev/null && ctl get agents >/dev/null && ctl describe agent gw1 >/dev/null &&
		ctl audit >/dev/null
}

fault_case() {
	local i good bad='' err rev_after audits_before audits_after desired gw1_log
	DBFS=$(mktemp -d /tmp/sluice-fault8-db.XXXXXX) || return 1
	trap 'dbfs_down' EXIT
	mount -t tmpfs -o size=$DBFS_SIZE,mode=0700 sluice-fault8 "$DBFS" || { observe "cannot mount a tmpfs"; return 1; }
	lab_up || return 1
	lab_start_servers tcp:8080 || return 1
	# lab_start_controller with the database in the tmpfs.
	lab_spawn controller ctl "$LAB_DIR/controller.log" "$LAB_BIN/sluice-controller" --listen 0.0.0.0:$LAB_PORT \
		--db "$DBFS/controller.db" $(lab_tls controller-ctl)
	lab_wait 10 "controller listening" in_ns ctl bash -c "echo > /dev/tcp/127.0.0.1/$LAB_PORT" 2>/dev/null || return 1
	lab_start_agent gw1
	lab_wait 15 "gw1 connected" agent_online gw1 || return 1
	ctl apply -f "$(fault_base_policy)" -m "fault suite base" >/dev/null || return 1
	BASE_REV=$(newest_revision)
	lab_wait 15 "gw1 at the base revision" agent_synced gw1 "$BASE_REV" || return 1
	flow_start || return 1

	dd if=/dev/zero of="$DBFS/filler" bs=64k >/dev/null 2>&1
	say "tmpfs full: $(df -h --output=used,avail "$DBFS" | tail -n 1)"
	good=$BASE_REV
	for i in $(seq 1 40); do
		if ctl apply -f "$(fat_policy "$i")" -m "fat $i" >"$LAB_DIR/apply.out" 2>"$LAB_DIR/apply.err"; then
			good=$(newest_revision)
			say "apply $i stored revision $good (still room in the WAL)"
			continue
		fi
		bad=$i
		break
	done
	[ -n "$bad" ] || { observe "40 applies all stored on a full disk?"; return 1; }
	err=$(sed 's/^sluicectl: error: //' "$LAB_DIR/apply.err" | head -n 1)
	say "apply $bad failed: $err"
	audits_before=$(ctl -o json audit | /usr/bin/python3 -c 'import json,sys; print(sum(1 for a in json.load(sys.stdin) if a["action"] == "apply"))')
	# The same again, and reads while the disk stays full.
	ctl apply -f "$LAB_DIR/fat-$bad.yaml" >/dev/null 2>&1 && { observe "a retry was stored on a full disk"; return 1; }
	reads_ok || { observe "reads fail while the disk is full"; return 1; }
	rev_after=$(newest_revision)
	audits_after=$(ctl -o json audit | /usr/bin/python3 -c 'import json,sys; print(sum(1 for a in json.load(sys.stdin) if a["action"] == "apply"))')
	# Full version: the disk stays full for a while (agents' status writes fail too), and
	# the controller keeps answering.
	for i in $(seq 1 $((FAULTS_FULL ? 10 : 1))); do
		sleep 2
		reads_ok || { observe "reads fail after $((2 * i)) s of a full disk"; return 1; }
	done
	desired=$(agent_field gw1 'd.get("desired_revision"), d.get("applied_revision"), d.get("state")')
	flow_stop || return 1
	flow_verdict || return 1
	observe "apply: '$(sed 's/.*cannot store the revision: //; s/ writing .*; nothing/; nothing/' <<<"$err")'"
	[[ $err == *"database is full"* && $err == *"free space"* ]] || return 1
	observe "newest $rev_after (last stored $good), gw1 $desired; reads ok"
	[ "$rev_after" = "$good" ] && [ "$audits_before" = "$audits_after" ] && [ "$desired" = "$good $good SYNCED" ] || return 1
	gw1_log=$(grep -c "applied revision $((good + 1))\b" "$LAB_DIR/gw1.log")
	[ "$gw1_log" -eq 0 ] || { observe "gw1 was sent a revision that was never stored"; return 1; }

	rm -f "$DBFS/filler"
	ctl apply -f "$LAB_DIR/fat-$bad.yaml" -m "after the disk got room" >/dev/null ||
		{ observe "apply still fails with space back"; return 1; }
	lab_wait 30 "gw1 at the revision stored after recovery" agent_synced gw1 "$(newest_revision)" ||
		{ observe "gw1 did not get the revision stored after recovery"; return 1; }
	observe "space back: revision $(newest_revision) stored, gw1 SYNCED"
	[ "$(sqlite3 "$DBFS/controller.db" 'PRAGMA integrity_check')" = ok ] || { observe "integrity_check failed"; return 1; }
}
