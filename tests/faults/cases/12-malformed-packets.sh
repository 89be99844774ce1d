# SPDX-License-Identifier: Apache-2.0
FAULT="malformed frames through both XDP programs"
EXPECTED="documented verdicts; 0 aborted; csums verify"

# No lab: BPF_PROG_TEST_RUN needs neither namespaces nor interfaces. tests/bpf/test_malformed
# (built beside the daemons) loads its own unpinned programs and maps, which go with the
# process, and runs every frame through inspection alone, the rewrite alone and the chain:
# cuts at every header byte, lying lengths, fragments, extension chains, then seeded random
# mutations (3,000 short, 200,000 full). Per class it prints frames, verdicts and reasons;
# any frame outside its documented verdict, an XDP_ABORTED, or a rewritten frame whose
# checksums do not verify from scratch fails it. The seed is in the log.

fault_case() {
	local bin="$SLUICE_BIN/test_malformed" out="$LAB_DIR/malformed.out" rc
	local frames=$((FAULTS_FULL ? 200000 : 3000))
	if [ ! -x "$bin" ]; then
		observe "$bin is missing: build the tests (cmake --build)"
		return 1
	fi
	say "test_malformed with $frames random frames"
	SLUICE_MALFORMED_FRAMES=$frames SLUICE_REQUIRE_PRIV=1 "$bin" >"$out" 2>&1
	rc=$?
	cat "$out" >&2
	# "malformed: class=NAME frames=N refused=N inspect=pass:P,drop:D unclassified=U
	#  reasons=R:n,... rewrite=translated:T,fragment:F chain=..." and one "malformed: total ..."
	awk '
	/^malformed: class=/ {
		for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
		n = f["frames"]; fam = f["class"]; sub(/-.*/, "", fam)
		classes++; fams[fam] += n
		split(f["inspect"], v, /[:,]/); pass += v[2]; drop += v[4]; refused += f["refused"]
		if (f["reasons"] != "none") {
			m = split(f["reasons"], r, ",")
			for (j = 1; j <= m; j++) { split(r[j], p, ":"); reasons[p[1]] += p[2] }
		}
	}
	/^malformed: total / {
		for (i = 3; i <= NF; i++) { split($i, kv, "="); t[kv[1]] = kv[2] }
	}
	END {
		s = ""
		for (k in fams) s = s (s ? " " : "") k "=" fams[k]
		printf "%d frames in %d classes (%s); seed %s\n", t["frames"], classes, s, t["seed"]
		s = ""
		for (k in reasons) s = s (s ? " " : "") k "=" reasons[k]
		printf "inspect pass=%d drop=%d refused(<14 B)=%d; reasons %s\n", pass, drop, refused, s
		printf "rewritten %d, checksums verified %d, aborted=%d\n", t["rewritten"], t["checksums_verified"], t["aborted"]
	}' "$out" | while IFS= read -r line; do observe "$line"; done
	if [ $rc -ne 0 ]; then
		observe "test_malformed failed (exit $rc): $(grep -m1 '^ERROR' "$out")"
		return 1
	fi
	grep -q '^malformed: total .* aborted=0 ' "$out" || return 1
	# Every rewritten frame was verified.
	awk '/^malformed: total / { for (i = 3; i <= NF; i++) { split($i, kv, "="); t[kv[1]] = kv[2] }
		exit !(t["rewritten"] > 0 && t["rewritten"] == t["checksums_verified"]) }' "$out"
}
