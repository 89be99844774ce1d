#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make_corpus.sh [BUILD] — writes the kept seed corpus, tests/fuzz/corpus/TARGET/, from
# scratch: well-formed inputs so each fuzzer starts deep in its grammar. The packet
# parsers' seeds are built here (python3); the policy files are the repository's own
# (deploy/examples, tests/data, good and broken) plus a JSON one; the protobuf messages and
# the compiler's byte strings come from fuzz_seeds (tests/fuzz/seeds.c) in the fuzz build
# BUILD (default: $SLUICE_FUZZ_BUILD, else build-fuzz; run.sh makes it). Commit the result.
# Reproducers of fixed findings are kept beside the seeds as TARGET/crash-*; this script
# leaves those alone.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-${SLUICE_FUZZ_BUILD:-$src/build-fuzz}}
out=$src/tests/fuzz/corpus
if [ ! -x "$build/bin/fuzz_seeds" ]; then
	echo "make_corpus.sh: $build/bin/fuzz_seeds not found: build the fuzzers first (tests/fuzz/run.sh --seconds 1)" >&2
	exit 1
fi
for t in frame http tls dns policy_file proto compile; do
	mkdir -p "$out/$t"
	find "$out/$t" -type f ! -name 'crash-*' ! -name 'leak-*' ! -name 'timeout-*' -delete
done

/usr/bin/python3 - "$out" <<'PY'
import os, struct, sys
out = sys.argv[1]
def put(target, name, data):
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)
def hello(sni):
    name = sni.encode()
    ext = struct.pack(">HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    alpn = b"\x02h2\x08http/1.1"
    ext += struct.pack(">HHH", 16, len(alpn) + 2, len(alpn)) + alpn
    ext += struct.pack(">HHBHH", 43, 5, 4, 0x0304, 0x0303)
    body = struct.pack(">H", 0x0303) + bytes(32) + b"\x20" + bytes(32) + struct.pack(">HHH", 4, 0x1301, 0x1302)
    body += b"\x01\x00" + struct.pack(">H", len(ext)) + ext
    hs = b"\x01" + len(body).to_bytes(3, "big") + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs
def query(name):
    q = b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\x00" + struct.pack(">HH", 1, 1)
    return struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + q
def frame(payload, dport, proto):
    if proto == 6:
        l4 = struct.pack(">HHIIBBHHH", 40000, dport, 0, 0, 0x50, 0x18, 0xFFFF, 0, 0)
    else:
        l4 = struct.pack(">HHHH", 5353, dport, 8 + len(payload), 0)
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(l4) + len(payload), 0, 0, 64, proto, 0,
                     bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]))
    return bytes.fromhex("020000000002020000000001") + b"\x08\x00" + ip + l4 + payload
http = b"GET /v1/orders/7?x=1 HTTP/1.1\r\nHost: api.example.com\r\nUser-Agent: t\r\n\r\n"
put("http", "get", http)
put("http", "connect", b"CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n")
put("tls", "hello", hello("a.example"))
dns = query("www.example.com")
put("dns", "udp", b"\x00" + dns)
put("dns", "tcp", b"\x01" + struct.pack(">H", len(dns)) + dns)
put("frame", "http", frame(http, 80, 6))
put("frame", "tls", frame(hello("x.example"), 443, 6))
put("frame", "dns", frame(dns, 53, 17))
# A policy file in JSON (what `sluicectl get policy -o json` prints), every section.
put("policy_file", "every-section.json", b'''{"rules": [
 {"name": "limit", "priority": 5, "match": {"src": ["10.0.0.0/8"], "proto": "tcp",
  "dst_ports": ["8000-8100"], "tcp_flags": "syn,!ack"},
  "action": {"rate_limit": {"bps": 1000, "burst": 4000, "per": "source"}},
  "sample": {"one_in": 3, "snaplen": 64}, "tls_only": true, "deprecated_paths": ["/v1/"]},
 {"name": "v6", "match": {"dst": ["2001:db8::/32"], "proto": "icmpv6"}, "action": "count"}],
 "routes": [{"name": "web", "frontend": {"vip": "2001:db8::10", "proto": "udp", "port": 53},
  "backends": [{"addr": "2001:db8::11", "port": 5353, "weight": 2, "tag": "a"}, {"addr": "2001:db8::12"}]}],
 "rollout": {"selector": {"env": "prod", "zone": "eu-1"}, "canary": "10%", "batch": "50%", "interval": "90s"},
 "detectors": {"port_scan": {"sigma": 3.5, "min": 0.25, "window": "2s", "severity": "high",
  "mitigate": {"action": "rate_limit", "pps": 10, "ttl": "5m"}}}}
''')
PY

n=0
for f in "$src"/deploy/examples/policy.yaml "$src"/tests/data/*.yaml "$src"/tests/data/policy_dir/*.y*ml \
	"$src"/tests/data/policy_dupdir/*.yaml "$src"/tests/data/broken/*.yaml; do
	rel=${f#"$src"/}
	cp "$f" "$out/policy_file/${rel//\//_}"
	n=$((n + 1))
done
"$build/bin/fuzz_seeds" "$out" "$src"/deploy/examples/policy.yaml "$src"/tests/data/policy_good.yaml \
	"$src"/tests/data/policy_good_v2.yaml "$src"/tests/data/policy_dir
for t in frame http tls dns policy_file proto compile; do
	printf '%s: %s files\n' "$t" "$(find "$out/$t" -type f | wc -l)"
done
