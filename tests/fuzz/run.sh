#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# run.sh [SECONDS | full] — build the parser fuzzers with clang (libFuzzer, ASan, UBSan)
# and run each one for SECONDS (default 20; "full": 600, the on-demand long run), two at
# a time, from seed inputs written here. Exit 0 when no fuzzer found a crash, a leak or a
# timeout; else 1, with the reproducer left under the build dir's artifacts/.
#   SLUICE_FUZZ_BUILD  build folder (default: build-fuzz at the top of the tree)
#   CC                 clang to use (default: clang)
# ctest runs this as fuzz/parsers with a short time, so CI fuzzes on every run.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-20}
[ "$secs" = full ] && secs=600
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS | full]" >&2; exit 2 ;; esac
build=${SLUICE_FUZZ_BUILD:-$src/build-fuzz}
cc=${CC:-clang}
if ! command -v "$cc" >/dev/null; then
	echo "run.sh: $cc not found: the fuzzers need clang (deploy/deps.sh installs it)" >&2
	exit 1
fi

cmake -S "$src" -B "$build" -DSLUICE_FUZZ=ON -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/sluice-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$build/artifacts"

# Seeds: well-formed inputs, so the fuzzers start deep in each grammar.
/usr/bin/python3 - "$work" <<'PY'
import os, struct, sys
work = sys.argv[1]
def put(target, name, data):
    os.makedirs(os.path.join(work, target), exist_ok=True)
    with open(os.path.join(work, target, name), "wb") as f:
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
PY

status=0
run() { # run TARGET
	local t=$1
	if ! "$build/bin/fuzz_$t" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -max_len=512 \
		-print_final_stats=1 -artifact_prefix="$build/artifacts/$t-" "$work/$t" >"$work/$t.log" 2>&1; then
		echo "fuzz_$t: FAILED (reproducer in $build/artifacts/); last lines of its log:" >&2
		tail -n 40 "$work/$t.log" >&2
		return 1
	fi
	echo "fuzz_$t: ok, $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$') runs in ${secs}s"
}
run frame & p1=$!
run http & p2=$!
wait $p1 || status=1
wait $p2 || status=1
run tls & p1=$!
run dns & p2=$!
wait $p1 || status=1
wait $p2 || status=1
exit $status
