#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_cli.sh — sluicectl used the way a new operator would: --help on every command it
# lists, an unknown command, a controller that is down (exit 1, the address tried and
# how to choose another), broken policy files, diff and apply (file, directory, stdin),
# every get/describe as tables, JSON and YAML, -o json fed back into apply ("unchanged"),
# a configuration file, bash completion of agent names, the manual page, and the live
# views in a terminal (tmux: colours, `top` redrawn in place) and piped (plain text).
# Runs a controller and two agents in the namespace lab (deploy/lab/lab.sh).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${SLUICE_SRC:-$(cd "$here/../.." && pwd)}
if [ "$(id -u)" -ne 0 ]; then
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_cli: needs root (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "test_cli: skipped: needs root"; exit 77
fi
for tool in tmux /usr/bin/python3; do
	command -v "$tool" >/dev/null || { echo "test_cli: $tool is missing (run deploy/deps.sh)"; exit 1; }
done
export SLUICE_BIN=${SLUICE_BIN:-$src/build/bin}
# A plaintext lab: this test drives sluicectl with --insecure itself (test_security.sh covers mTLS).
export LAB_INSECURE=1
source "$src/deploy/lab/lab.sh"
B=$LAB_BIN/sluicectl
TMUX_SOCK="sluice-$LAB"
unset SLUICE_CONTROLLER NO_COLOR
export HOME=$LAB_DIR/home XDG_CONFIG_HOME= # no operator's configuration leaks in
mkdir -p "$HOME"

passed=0 failed=0
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then
		echo "ok   - $what"; passed=$((passed + 1))
	else
		echo "FAIL - $what"; failed=$((failed + 1))
	fi
}
not() { ! "$@"; }
has() { grep -qF -- "$2" <<<"$1"; } # has TEXT NEEDLE
traffic_pid=
finish() {
	local rc=$?
	[ -n "$traffic_pid" ] && kill "$traffic_pid" 2>/dev/null && wait "$traffic_pid" 2>/dev/null
	tmux -L "$TMUX_SOCK" kill-server 2>/dev/null
	if [ $failed -gt 0 ] || [ $rc -ne 0 ]; then
		for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 20 "$f"; done
	fi
	lab_down
}
trap finish EXIT
trap 'exit 1' INT TERM

# run EXPECTED_RC COMMAND...: runs it, keeps stdout in $out and stderr in $err.
run() {
	local want=$1; shift
	out=$("$@" 2>"$LAB_DIR/stderr"); rc=$?
	err=$(cat "$LAB_DIR/stderr")
	[ "$rc" -eq "$want" ] || { echo "    exit $rc, wanted $want: $*"; echo "$err" | head -3 | sed 's/^/    /'; return 1; }
}

# ---- without a controller ------------------------------------------------------------
check "--help exits 0" run 0 "$B" --help
# The synopsis column of each command line (continuation lines are indented deeper).
commands=$(sed -n '/^Commands:/,/^$/p' <<<"$out" | grep '^  [a-z]' | awk -F'  +' '{ split($2, w, " "); c = w[1]; if (w[2] ~ /^[a-z]+$/) c = c " " w[2]; print c }')
check "--help lists at least 14 commands" test "$(wc -l <<<"$commands")" -ge 14
while read -r cmd; do
	# shellcheck disable=SC2086
	check "$cmd --help: exit 0, usage and an example" \
		bash -c "out=\$(\"$B\" $cmd --help) && grep -q '^Usage: sluicectl' <<<\"\$out\" && grep -q '^Example:' <<<\"\$out\""
done <<<"$commands"
check "unknown command exits 2" run 2 "$B" frobnicate
check "... and says what to do" has "$err" "unknown command 'frobnicate' (commands: apply, diff, get"
check "no command exits 2" run 2 "$B"
check "unknown flag exits 2" run 2 "$B" get agents --colour
check "a missing argument exits 2 and names the fix" run 2 "$B" --insecure describe agent
check "... (list them with: sluicectl get agents)" has "$err" "sluicectl get agents"

check "controller down: exit 1" run 1 "$B" --controller 127.0.0.1:1 --insecure --timeout 2s get agents
check "... names the address tried" has "$err" "cannot reach the controller at 127.0.0.1:1 (from --controller)"
check "... and how to set another" has "$err" "--controller ADDR, SLUICE_CONTROLLER=ADDR or 'controller: ADDR' in ~/.config/sluice/config.yaml"
check "controller down (SLUICE_CONTROLLER): exit 1" run 1 env SLUICE_CONTROLLER=127.0.0.1:1 "$B" --insecure --timeout 2s get revisions
check "... says where the address came from" has "$err" "127.0.0.1:1 (from SLUICE_CONTROLLER)"
mkdir -p "$HOME/.config/sluice"
printf 'controller: 127.0.0.1:1\ninsecure: true\ntimeout: 2s\n' >"$HOME/.config/sluice/config.yaml"
check "controller down (config file): exit 1" run 1 "$B" get agents
check "... names the configuration file" has "$err" "127.0.0.1:1 (from $HOME/.config/sluice/config.yaml)"
printf 'controller: 127.0.0.1:1\ncontroler: x\n' >"$HOME/.config/sluice/config.yaml"
check "a broken configuration file exits 2" run 2 "$B" get agents
check "... with file:line:col" has "$err" "config.yaml:2:1: unknown key 'controler'"
rm -f "$HOME/.config/sluice/config.yaml"
check "no credentials: exit 2 naming flags, config file and --insecure" run 2 "$B" get agents
check "... names the flags and the file" has "$err" "--tls-cert FILE --tls-key FILE --tls-ca FILE, or tls_cert, tls_key, tls_ca in ~/.config/sluice/config.yaml"

check "sluicectl man: exit 0" run 0 "$B" man
if command -v groff >/dev/null; then
	check "the manual is clean troff (groff -ww)" test -z "$("$B" man | groff -man -Tutf8 -ww -z 2>&1)"
fi
check "completion bash: a script that bash accepts" bash -n <("$B" completion bash)

# ---- the lab ---------------------------------------------------------------------------
lab_up
lab_start_servers tcp:8080
lab_start_controller
lab_start_agent gw1
lab_start_agent gw2
# sluicectl in the controller's namespace; its --insecure warning filtered from stderr.
sctl() { { in_ns ctl "$B" --controller 127.0.0.1:$LAB_PORT --insecure "$@" 2>&1 1>&3 | { grep -v "WARNING: --insecure" >&2 || true; }; } 3>&1; }
two_agents() { [ "$(sctl -o name get agents | wc -l)" = 2 ]; }
synced() { # synced REV: both agents run REV
	sctl -o json get agents | /usr/bin/python3 -c '
import json, sys
a = {x["node_id"]: x for x in json.load(sys.stdin)}
sys.exit(0 if all(n in a and a[n]["state"] == "SYNCED" and a[n]["applied_revision"] == int(sys.argv[1]) for n in ("gw1", "gw2")) else 1)' "$1"
}
check "agents connect" lab_wait 20 "two agents" two_agents

P=$LAB_DIR/policy
mkdir -p "$P"
cat >"$P/v1.yaml" <<'YAML'
rules:
  - name: count-web
    priority: 5
    match: { proto: tcp, dst_ports: [8080] }
    action: count
  - name: block-telnet
    priority: 10
    match: { proto: tcp, dst_ports: [23] }
    action: drop
routes:
  - name: web
    frontend: { vip: 10.99.2.100, proto: tcp, port: 80 }
    backends:
      - { addr: 10.99.2.1, port: 8080, weight: 90, tag: v1 }
      - { addr: 10.99.2.2, port: 8080, weight: 10, tag: v2 }
YAML
sed -e 's/dst_ports: \[23\]/dst_ports: [23, 2323]/' -e 's/weight: 10, tag: v2/weight: 30, tag: v2/' "$P/v1.yaml" >"$P/v2.yaml"
printf '  - name: block-ssh\n    priority: 11\n    match: { proto: tcp, dst_ports: [22] }\n    action: drop\n' >"$P/v2-extra.yaml"
/usr/bin/python3 - "$P/v2.yaml" "$P/v2-extra.yaml" <<'PY'
import sys
text, extra = open(sys.argv[1]).read(), open(sys.argv[2]).read()
open(sys.argv[1], "w").write(text.replace("routes:\n", extra + "routes:\n", 1))
PY
rm "$P/v2-extra.yaml"
printf 'rules:\n  - name: bad\n    match: { proto: tcp, dst_ports: [70000] }\n    action: drop\n' >"$P/bad.yaml"

check "apply a broken file: exit 1" run 1 sctl apply -f "$P/bad.yaml"
check "... names file:line:col, the rule and the field" has "$err" "bad.yaml:3:38: rule 'bad': dst_ports: 70000 is not a port (1-65535)"
check "diff a broken file: exit 1" run 1 sctl diff -f "$P/bad.yaml"
check "diff before any revision: exit 0" run 0 sctl diff -f "$P/v1.yaml"
check "... against an empty policy, everything added" bash -c 'grep -q "against an empty policy" <<<"$1" && grep -q "^+ rule count-web" <<<"$1" && grep -q "^+ route web" <<<"$1"' _ "$out"
check "apply v1: exit 0" run 0 sctl apply -f "$P/v1.yaml" -m "lab v1"
check "... prints the new revision and what changed" bash -c 'grep -q "^revision 1 (hash [0-9a-f]*…) stored" <<<"$1" && grep -q "rules: 2 added" <<<"$1"' _ "$out"
check "apply v1 again: unchanged, exit 0" run 0 sctl apply -f "$P/v1.yaml"
check "... says unchanged" has "$out" "unchanged: revision 1"
check "agents SYNCED at 1" lab_wait 20 "revision 1" synced 1

check "diff v2 (piped): exit 0" run 0 sctl diff -f "$P/v2.yaml"
check "... field by field" bash -c 'grep -q "^~ rule block-telnet" <<<"$1" && grep -q "match.dst_ports: \[23\] -> \[23, 2323\]" <<<"$1" && grep -q "^+ rule block-ssh" <<<"$1" && grep -q "backends\[1\].weight: 10 -> 30" <<<"$1"' _ "$out"
check "... no colour when piped" not grep -q $'\033' <<<"$out"
check "diff -o json: identical false, 1 rule added" bash -c '/usr/bin/python3 -c "
import json, sys; d = json.load(sys.stdin)
assert d[\"against\"] == 1 and not d[\"identical\"] and d[\"diff\"][\"summary\"][\"rules\"][\"added\"] == 1" <<<"$1"' _ "$(sctl -o json diff -f "$P/v2.yaml")"
check "apply v2 from stdin" run 0 sctl apply -f - -m v2 <"$P/v2.yaml"
check "... revision 2, with the changes" bash -c 'grep -q "^revision 2 " <<<"$1" && grep -q "^~ rule block-telnet" <<<"$1"' _ "$out"
mkdir -p "$P/dir" && cp "$P/v2.yaml" "$P/dir/10-all.yaml"
check "apply a directory holding the same policy: unchanged" bash -c 'grep -q "unchanged: revision 2" <<<"$1"' _ "$(sctl apply -f "$P/dir")"

# ---- reading back -------------------------------------------------------------------------
check "agents SYNCED at 2" lab_wait 20 "revision 2" synced 2
for what in "get agents" "get agents -o wide" "get revisions" "get revisions -o wide" "get rules" "get routes" \
	"get policy" "describe agent gw1" "describe revision 2" "audit" "version"; do
	# shellcheck disable=SC2086
	check "$what: exit 0, output" bash -c '[ -n "$1" ]' _ "$(sctl $what)"
done
check "get agents: aligned table" bash -c 'head -1 <<<"$1" | grep -q "^NAME  *STATE  *REVISION  *APPLIED  *RULES  *LAST-SEEN  *AGE  *LABELS$"' _ "$(sctl get agents)"
check "get agents -o name" test "$(sctl -o name get agents | tr '\n' ' ')" = "gw1 gw2 "
check "describe agent shows human ages" bash -c 'grep -Eq "^Last seen: .*\([0-9]+[smhd] ago\)" <<<"$1"' _ "$(sctl describe agent gw1)"
check "audit lists both applies" test "$(sctl -o json audit | /usr/bin/python3 -c 'import json,sys; print(sum(e["action"] == "apply" for e in json.load(sys.stdin)))')" = 2
for what in "get agents" "get revisions" "get rules" "get routes" "get policy" "describe agent gw1" "describe revision 2" "audit"; do
	# shellcheck disable=SC2086
	check "$what -o yaml parses and equals -o json" /usr/bin/python3 -c '
import json, sys, yaml
y, j = yaml.safe_load(sys.argv[1]), json.loads(sys.argv[2])
for d in [y, j] if isinstance(y, dict) else y + j:
    for live in ("last_seen", "state_since", "status", "rules"):  # live status moves between the two calls
        if isinstance(d, dict) and "node_id" in d:
            d.pop(live, None)
sys.exit(0 if y == j else 1)' "$(sctl -o yaml $what)" "$(sctl -o json $what)"
done
sctl -o json get policy >"$P/saved.json"
check "get policy -o json fed back into apply: unchanged" bash -c 'grep -q "unchanged: revision 2" <<<"$1"' _ "$(sctl apply -f "$P/saved.json")"
mkdir -p "$P/parts"
sctl -o json get rules >"$P/parts/rules.json"
sctl -o json get routes >"$P/parts/routes.json"
check "get rules + get routes -o json, applied as a directory: unchanged" bash -c 'grep -q "unchanged: revision 2" <<<"$1"' _ "$(sctl apply -f "$P/parts")"
sctl -o yaml get policy >"$P/saved.yaml"
check "get policy -o yaml fed back into apply: unchanged" bash -c 'grep -q "unchanged: revision 2" <<<"$1"' _ "$(sctl apply -f "$P/saved.yaml")"
# Traffic through gw1 that count-web counts, for top's rates further down.
( while :; do in_ns cli socat -T1 - TCP:10.99.2.1:8080,connect-timeout=1 </dev/null >/dev/null 2>&1; sleep 0.05; done ) &
traffic_pid=$!
# top in a terminal runs (and measures) while the checks below go on.
tmux -L "$TMUX_SOCK" new-session -d -s live-top -x 120 -y 30 \
	"ip netns exec $LAB-ctl $B --controller 127.0.0.1:$LAB_PORT --insecure top --interval 1s --count 14 2>/dev/null; echo TOP-EXIT=\$?; sleep 60"
tmux -L "$TMUX_SOCK" new-session -d -s live-diff -x 120 -y 30 \
	"ip netns exec $LAB-ctl $B --controller 127.0.0.1:$LAB_PORT --insecure diff -f $P/v1.yaml 2>/dev/null; sleep 60"
tmux -L "$TMUX_SOCK" new-session -d -s live-nocolor -x 120 -y 30 \
	"NO_COLOR=1 ip netns exec $LAB-ctl $B --controller 127.0.0.1:$LAB_PORT --insecure diff -f $P/v1.yaml 2>/dev/null; sleep 60"

# ---- configuration file and completion -------------------------------------------------------
printf 'controller: 127.0.0.1:%s\ninsecure: true\noutput: wide\n' "$LAB_PORT" >"$HOME/.config/sluice/config.yaml"
check "the configuration file alone reaches the controller (-o wide from it)" bash -c 'head -1 <<<"$1" | grep -q "INTERFACES"' _ "$(in_ns ctl env HOME="$HOME" "$B" get agents 2>/dev/null)"
check "flags override the configuration file" bash -c 'head -1 <<<"$1" | grep -qv "INTERFACES"' _ "$(in_ns ctl env HOME="$HOME" "$B" -o table get agents 2>/dev/null)"
cat >"$LAB_DIR/complete.sh" <<EOF
source <("$B" completion bash)
COMP_WORDS=("$B" --controller 127.0.0.1:$LAB_PORT --insecure describe agent "")
COMP_CWORD=6
_sluicectl
echo "\${COMPREPLY[*]}"
COMP_WORDS=("$B" get "")
COMP_CWORD=2
_sluicectl
echo "\${COMPREPLY[*]}"
EOF
completions=$(in_ns ctl bash "$LAB_DIR/complete.sh" 2>/dev/null)
check "completion offers agent names from the controller" test "$(head -1 <<<"$completions")" = "gw1 gw2"
check "completion offers the kinds of get" has "$(tail -1 <<<"$completions")" "agents revisions rules routes policy"
rm -f "$HOME/.config/sluice/config.yaml"

# ---- live views: piped, and in a terminal (tmux) --------------------------------------------
check "top piped: one plain frame with rates once agents have reported twice" run 0 sctl top --interval 1s
check "... count-web has a packet rate" bash -c 'grep -Eq "^count-web +2 +[0-9.]+[kM]?/s" <<<"$1"' _ "$out"
check "... plain text (no escape codes)" not grep -q $'\033' <<<"$out"
check "top gw1 -o json --count 2: two JSON lines" bash -c '[ "$(wc -l <<<"$1")" = 2 ] && /usr/bin/python3 -c "
import json, sys
for line in sys.stdin: assert json.loads(line)[\"agents\"] == 1" <<<"$1"' _ "$(sctl -o json top gw1 --interval 500ms --count 2)"

screen() { tmux -L "$TMUX_SOCK" capture-pane -p -e -t "=live-$1:"; }
check "top in a terminal finishes its --count frames" lab_wait 30 "top in tmux" bash -c "tmux -L '$TMUX_SOCK' capture-pane -p -t =live-top: | grep -q TOP-EXIT=0"
top_screen=$(screen top)
[ -n "${SLUICE_TEST_VERBOSE:-}" ] && { echo "--- top's screen:"; echo "$top_screen"; }
check "... redrawn in place: one title on the screen after 14 frames" test "$(grep -c "sluice top:" <<<"$top_screen")" = 1
check "... with the table of rules and their rates" bash -c 'grep -Eq "RULE +AGENTS +PKTS/S +BYTES/S +PACKETS +BYTES" <<<"$1" && grep -Eq "count-web +2 +[0-9.]+[kM]?/s" <<<"$1"' _ "$top_screen"
check "diff in a terminal is coloured" bash -c 'grep -q $'"'"'\033\[3[123]m'"'"' <<<"$1"' _ "$(screen diff)"
check "diff in a terminal with NO_COLOR is not" not grep -q $'\033\\[3[123]m' <<<"$(screen nocolor)"

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
