#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""notify_probe.py SOCKET DST ALLOW_PORT BLOCK_PORT COUNT OUT

Listens as a service manager would on the Unix datagram socket SOCKET ($NOTIFY_SOCKET)
and, the moment a READY=1 arrives, sends COUNT datagrams to DST:ALLOW_PORT and COUNT to
DST:BLOCK_PORT in the flow.py format (sequence numbers), then writes "ready" and the
seconds it waited to OUT and exits. So the probes meet the datapath exactly as the agent
declared it ready.
"""
import os
import socket
import sys
import time

TAG = b"sluice-fault"


def main(path, dst, allow, block, count, out):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(60)
    t0 = time.monotonic()
    while True:
        msg = s.recv(4096)
        if b"READY=1" in msg.split(b"\n"):
            break
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for seq in range(count):
        for port in (allow, block):
            u.sendto(b"%s %d" % (TAG, seq), (dst, port))
    with open(out, "w") as f:
        f.write("ready %.2f %s\n" % (time.monotonic() - t0, msg.decode(errors="replace").replace("\n", " ")))


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.stderr.write(__doc__)
        sys.exit(2)
    a = sys.argv
    main(a[1], a[2], int(a[3]), int(a[4]), int(a[5]), a[6])
