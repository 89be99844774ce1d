#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""flow.py — bounded, counted UDP flows for the fault suite.

  flow.py send DST PORT RATE SECONDS OUT   datagrams carrying a sequence number, RATE per
                                           second, for at most SECONDS or until SIGTERM;
                                           writes the number sent to OUT on exit
  flow.py recv OUT PORT...                 counts distinct sequence numbers per port until
                                           SIGTERM; writes "PORT COUNT MAXSEQ" lines to OUT

Every datagram is "<tag> <seq>"; the receiver ignores anything else, so stray traffic
cannot inflate a count. The sender paces by absolute deadlines, so a slow moment is made
up for instead of silently lowering the rate.
"""
import os
import select
import signal
import socket
import sys
import time

TAG = b"sluice-fault"
stop = False


def on_term(*_):
    global stop
    stop = True


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def send(dst, port, rate, seconds, out):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    interval = 1.0 / rate
    start = time.monotonic()
    sent = 0
    try:
        while not stop and time.monotonic() - start < seconds:
            due = start + sent * interval
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
                continue
            try:
                s.sendto(b"%s %d" % (TAG, sent), (dst, port))
            except OSError:
                pass  # counted as sent: a datagram the stack refused is a lost one
            sent += 1
    finally:
        write_atomic(out, "%d\n" % sent)


def recv(out, ports):
    socks = {}
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.bind(("0.0.0.0", p))
        socks[s.fileno()] = (p, s)
    seen = {p: set() for p in ports}
    poll = select.poll()
    for fd in socks:
        poll.register(fd, select.POLLIN)
    write_atomic(out + ".ready", "ready\n")
    while not stop:
        for fd, _ in poll.poll(100):
            p, s = socks[fd]
            while True:
                try:
                    data = s.recv(128, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                parts = data.split()
                if len(parts) == 2 and parts[0] == TAG and parts[1].isdigit():
                    seen[p].add(int(parts[1]))
    write_atomic(out, "".join("%d %d %d\n" % (p, len(seen[p]), max(seen[p], default=-1))
                              for p in ports))


def main(argv):
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    if len(argv) == 6 and argv[0] == "send":
        send(argv[1], int(argv[2]), float(argv[3]), float(argv[4]), argv[5])
    elif len(argv) >= 3 and argv[0] == "recv":
        recv(argv[1], [int(p) for p in argv[2:]])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
