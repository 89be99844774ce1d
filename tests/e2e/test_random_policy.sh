#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# test_random_policy.sh — random policies applied with sluicectl, real datagrams through an
# agent's interface, and what arrives compared with what the policy says. Each round makes
# a random rule set over the lab's addresses (overlapping source and destination CIDRs,
# port ranges, protocols, priorities with ties, pass/drop/count), applies it, sends
# datagrams from random sources and source ports to random destinations and ports, and
# checks every one against a reference written here in plain Python: the lowest priority
# wins (file order breaks ties), count rules only count, no match passes.
#   SLUICE_RANDOM_ROUNDS (default 4), SLUICE_RANDOM_SEED (default: random, printed)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=${SLUICE_SRC:-$(cd "$here/../.." && pwd)}
if [ "$(id -u)" -ne 0 ]; then
	[ "${SLUICE_REQUIRE_PRIV:-0}" = 1 ] && { echo "test_random_policy: needs root (SLUICE_REQUIRE_PRIV=1 forbids skipping)"; exit 1; }
	echo "test_random_policy: skipped: needs root"; exit 77
fi
export SLUICE_BIN=${SLUICE_BIN:-$src/build/bin}
source "$src/deploy/lab/lab.sh"

ROUNDS=${SLUICE_RANDOM_ROUNDS:-4}
SEED=${SLUICE_RANDOM_SEED:-$RANDOM$RANDOM}
echo "test_random_policy: seed $SEED, $ROUNDS rounds (SLUICE_RANDOM_SEED=$SEED to repeat)"

passed=0 failed=0
check() { # check DESCRIPTION COMMAND...
	local what=$1; shift
	if "$@"; then
		echo "ok   - $what"; passed=$((passed + 1))
	else
		echo "FAIL - $what"; failed=$((failed + 1))
	fi
}
finish() {
	local rc=$?
	if [ $failed -gt 0 ] || [ $rc -ne 0 ]; then
		for f in "$LAB_DIR"/*.log; do echo "--- $f"; tail -n 30 "$f"; done
	fi
	lab_down
}
trap finish EXIT
trap 'exit 1' INT TERM

gw1_at() {
	ctl -o json get agents 2>/dev/null | /usr/bin/python3 -c '
import json, sys
a = {x["node_id"]: x for x in json.load(sys.stdin)}.get("gw1")
sys.exit(0 if a and a["state"] == "SYNCED" and int(a["applied_revision"]) == int(sys.argv[1]) else 1)' "$1"
}

# The generator, the sender, the receiver and the reference in one file.
cat >"$LAB_DIR/rp.py" <<'PY'
import ipaddress, json, os, random, select, signal, socket, sys, time

SRCS = ["10.99.1.%d" % i for i in range(1, 17)]     # the client's addresses
DSTS = ["10.99.2.%d" % i for i in range(1, 9)]      # the server's addresses
PORTS = list(range(9100, 9132))                     # the server listens on all of them
SPORTS = list(range(41000, 41016))

def cidr(pool, rnd):
    a = ipaddress.ip_address(rnd.choice(pool))
    plen = rnd.choice([32, 32, 31, 30, 29, 28, 24])
    return str(ipaddress.ip_network("%s/%d" % (a, plen), strict=False))

def ports(lo, hi, rnd):
    out = []
    for _ in range(rnd.randint(1, 3)):
        a = rnd.randint(lo, hi)
        b = min(hi, a + rnd.choice([0, 0, 1, 3, 8]))
        out.append(str(a) if a == b else "%d-%d" % (a, b))
    return out

def make(seed, path):
    rnd = random.Random(seed)
    rules = []
    for i in range(rnd.randint(3, 40)):
        m = {}
        if rnd.random() < 0.6: m["src"] = [cidr(SRCS, rnd) for _ in range(rnd.randint(1, 2))]
        if rnd.random() < 0.5: m["dst"] = [cidr(DSTS, rnd) for _ in range(rnd.randint(1, 2))]
        m["proto"] = rnd.choice(["udp", "udp", "udp", "tcp", "any"])
        if m["proto"] != "any" and rnd.random() < 0.7: m["dst_ports"] = ports(PORTS[0], PORTS[-1], rnd)
        if m["proto"] != "any" and rnd.random() < 0.2: m["src_ports"] = ports(SPORTS[0], SPORTS[-1], rnd)
        r = {"name": "r%d" % i, "match": m, "action": rnd.choice(["pass", "drop", "drop", "count"])}
        if rnd.random() < 0.8: r["priority"] = rnd.randint(1, 12)   # ties on purpose
        rules.append(r)
    json.dump({"rules": rules}, open(path, "w"), indent=1)
    probes = [{"id": k, "src": rnd.choice(SRCS), "sport": rnd.choice(SPORTS),
               "dst": rnd.choice(DSTS), "dport": rnd.choice(PORTS)} for k in range(int(sys.argv[4]))]
    json.dump(probes, open(path + ".probes", "w"))

def in_ports(spec, p):
    for s in spec:
        lo, _, hi = str(s).partition("-")
        if int(lo) <= p <= int(hi or lo): return True
    return False

def matches(m, pr):
    if "src" in m and not any(ipaddress.ip_address(pr["src"]) in ipaddress.ip_network(c) for c in m["src"]): return False
    if "dst" in m and not any(ipaddress.ip_address(pr["dst"]) in ipaddress.ip_network(c) for c in m["dst"]): return False
    if m.get("proto", "any") not in ("any", "udp"): return False
    if "dst_ports" in m and not in_ports(m["dst_ports"], pr["dport"]): return False
    if "src_ports" in m and not in_ports(m["src_ports"], pr["sport"]): return False
    return True

def expect(policy, pr):
    order = sorted(enumerate(policy["rules"]), key=lambda ir: (ir[1].get("priority", 1000), ir[0]))
    for _, r in order:
        if r["action"] != "count" and matches(r["match"], pr):
            return r["action"] == "pass", r["name"]
    return True, "(none)"

def send(path):
    for pr in json.load(open(path + ".probes")):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((pr["src"], pr["sport"]))
        s.sendto(b"rp %s %d" % (os.path.basename(path).encode(), pr["id"]), (pr["dst"], pr["dport"]))
        s.close()
        time.sleep(0.001)

def recv(out):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    socks = []
    for p in PORTS:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind(("0.0.0.0", p))
        socks.append(s)
    f = open(out, "a", buffering=1)
    open(out + ".ready", "w").close()
    while not stop:
        r, _, _ = select.select(socks, [], [], 0.2)
        for s in r:
            f.write(s.recv(256).decode(errors="replace") + "\n")

def verify(path, got_file):
    policy = json.load(open(path))
    tag = os.path.basename(path)
    got = set()
    for line in open(got_file):
        p = line.split()
        if len(p) == 3 and p[0] == "rp" and p[1] == tag: got.add(int(p[2]))
    bad = []
    probes = json.load(open(path + ".probes"))
    for pr in probes:
        want, by = expect(policy, pr)
        if want != (pr["id"] in got):
            bad.append("%s:%d -> %s:%d: expected %s (rule %s), %s" % (pr["src"], pr["sport"], pr["dst"], pr["dport"],
                       "pass" if want else "drop", by, "arrived" if pr["id"] in got else "dropped"))
    passes = sum(1 for pr in probes if expect(policy, pr)[0])
    print("%s: %d rules, %d probes (%d should pass, %d be dropped), %d wrong" % (tag, len(policy["rules"]),
          len(probes), passes, len(probes) - passes, len(bad)))
    for b in bad[:10]: print("  " + b)
    sys.exit(1 if bad else 0)

cmd = sys.argv[1]
if cmd == "make": make(int(sys.argv[2]), sys.argv[3])
elif cmd == "send": send(sys.argv[2])
elif cmd == "recv": recv(sys.argv[2])
elif cmd == "verify": verify(sys.argv[2], sys.argv[3])
PY

lab_up
for i in $(seq 2 16); do ip -n "$(ns cli)" addr add "10.99.1.$i/24" dev c1; done
for i in $(seq 2 8); do ip -n "$(ns srv)" addr add "10.99.2.$i/24" dev s1; done
lab_start_controller
lab_start_agent gw1
lab_spawn recv srv "$LAB_DIR/recv.log" /usr/bin/python3 "$LAB_DIR/rp.py" recv "$LAB_DIR/got"
lab_wait 10 "receiver" test -e "$LAB_DIR/got.ready"

for round in $(seq 1 "$ROUNDS"); do
	p="$LAB_DIR/round$round.json"
	/usr/bin/python3 "$LAB_DIR/rp.py" make $((SEED + round)) "$p" 400
	check "round $round: apply a random policy" eval 'ctl apply -f "$p" -m "random round $round" >/dev/null'
	check "round $round: gw1 SYNCED at revision $round" lab_wait 20 "gw1 at $round" gw1_at "$round"
	in_ns cli /usr/bin/python3 "$LAB_DIR/rp.py" send "$p"
	sleep 1
	check "round $round: every datagram arrived or not as the policy says" /usr/bin/python3 "$LAB_DIR/rp.py" verify "$p" "$LAB_DIR/got"
done

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
