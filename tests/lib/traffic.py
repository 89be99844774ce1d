#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""traffic.py — bounded traffic for the lab (tests/e2e, tests/bench): run it inside a lab
namespace; every command stops after its duration and sends at most its rate.

  http SRC DST PORT PATH RATE SECS          HTTP/1.1 GET requests (a new connection each)
  scan SRC DST FIRST-LAST RATE              TCP connection attempts to each port once
  synflood SRC DST PORT RATE SECS           raw TCP SYNs from SRC (random source ports)
  udpflood SRC DST PORT RATE SECS [SIZE]    UDP datagrams of SIZE bytes

Each prints one line "sent N" when done. Exit 2 on usage errors.
"""
import errno
import random
import select
import socket
import struct
import sys
import time

MAX_RATE = 20000  # packets or attempts per second
MAX_SECS = 600


def pace(t0, done, rate):
    """Sleeps until the next send is due at `rate` per second."""
    delay = t0 + done / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def http(src, dst, port, path, rate, secs):
    req = ("GET %s HTTP/1.1\r\nHost: lab\r\nUser-Agent: sluice-lab\r\n\r\n" % path).encode()
    t0 = time.monotonic()
    sent = 0
    while time.monotonic() - t0 < secs:
        try:
            with socket.create_connection((dst, port), timeout=1, source_address=(src, 0)) as s:
                s.sendall(req)
                s.settimeout(0.5)
                try:
                    s.recv(256)
                except OSError:
                    pass
            sent += 1
        except OSError:
            pass
        pace(t0, sent + 1, rate)
    return sent


def scan(src, dst, ports, rate):
    first, last = (int(x) for x in ports.split("-"))
    t0 = time.monotonic()
    open_socks = []
    sent = 0
    for port in range(first, last + 1):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.bind((src, 0))
        err = s.connect_ex((dst, port))
        if err not in (0, errno.EINPROGRESS):
            s.close()
            continue
        open_socks.append((time.monotonic(), s))
        sent += 1
        # Close attempts older than half a second (answered or not): bounded sockets.
        while open_socks and time.monotonic() - open_socks[0][0] > 0.5:
            open_socks.pop(0)[1].close()
        pace(t0, sent, rate)
    time.sleep(0.3)
    for _, s in open_socks:
        s.close()
    return sent


def synflood(src, dst, port, rate, secs):
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    saddr, daddr = socket.inet_aton(src), socket.inet_aton(dst)
    t0 = time.monotonic()
    sent = 0
    while time.monotonic() - t0 < secs:
        tcp = struct.pack("!HHIIBBHHH", random.randint(1024, 65535), port, random.getrandbits(32), 0, 5 << 4, 0x02,
                          64240, 0, 0)
        csum = checksum(struct.pack("!4s4sBBH", saddr, daddr, 0, 6, len(tcp)) + tcp)
        tcp = tcp[:16] + struct.pack("!H", csum) + tcp[18:]
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, random.getrandbits(16), 0, 64, 6, 0, saddr, daddr)
        raw.sendto(ip + tcp, (dst, 0))
        sent += 1
        pace(t0, sent, rate)
    return sent


def udpflood(src, dst, port, rate, secs, size=512):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    payload = b"x" * size
    t0 = time.monotonic()
    sent = 0
    while time.monotonic() - t0 < secs:
        try:
            s.sendto(payload, (dst, port))
        except OSError:
            pass
        sent += 1
        pace(t0, sent, rate)
    return sent


def main(argv):
    cmds = {
        "http": (http, (str, str, int, str, float, float)),
        "scan": (scan, (str, str, str, float)),
        "synflood": (synflood, (str, str, int, float, float)),
        "udpflood": (udpflood, (str, str, int, float, float, int)),
    }
    if len(argv) < 2 or argv[1] not in cmds:
        sys.stderr.write(__doc__)
        return 2
    fn, types = cmds[argv[1]]
    args = argv[2:]
    if not (len(types) - (1 if argv[1] == "udpflood" else 0) <= len(args) <= len(types)):
        sys.stderr.write(__doc__)
        return 2
    vals = [t(a) for t, a in zip(types, args)]
    rate_at = {"http": 4, "scan": 3, "synflood": 3, "udpflood": 3}[argv[1]]
    # Bounded by construction: the lab must never see an unbounded flood.
    if not 0 < vals[rate_at] <= MAX_RATE or (len(vals) > rate_at + 1 and not 0 < vals[rate_at + 1] <= MAX_SECS):
        sys.stderr.write("rate must be in (0, %d] per second and duration in (0, %d] seconds\n" % (MAX_RATE, MAX_SECS))
        return 2
    print("sent %d" % fn(*vals))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
