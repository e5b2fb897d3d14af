"""The per-exchange hopping UDP service (mtdlab.contract.xhop), for the flooding experiment.

    python3 -m services.xhop.server BASE N CAPACITY_PPS      (key hex in MTDLAB_XHOP_KEY)

Listens on BASE .. BASE+N-1 with small receive buffers and reads each port at most
CAPACITY_PPS datagrams/s: a stand-in for a service whose work per datagram is bounded, so
a flood that outruns it fills that port's buffer and the kernel drops what arrives next,
legitimate or not. A request is answered only on the port its exchange maps to. On SIGTERM
it prints one JSON line of counts, with the kernel's own drop count per port
(/proc/net/udp), and exits.
"""
from __future__ import annotations

import json
import signal
import socket
import sys
import time

from mtdlab.contract import keys
from mtdlab.contract.limits import LIMITS, LimitError
from mtdlab.contract.xhop import exchange_port, parse_request, reply

RCVBUF = 4096        # the kernel doubles it; holds a handful of small datagrams
TICK_S = 0.002
BURST = 2.0          # at most this many reads banked per port


def kernel_drops(ports: set[int]) -> dict[int, int]:
    drops = {}
    with open("/proc/net/udp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            port = int(fields[1].rsplit(":", 1)[1], 16)
            if port in ports:
                drops[port] = int(fields[-1])
    return drops


def check(base: int, n: int, capacity: float) -> None:
    LIMITS["port"].require(base, "xhop")
    LIMITS["port"].require(base + n - 1, "xhop")
    LIMITS["flood.ns"].require(n, "xhop")
    LIMITS["flood.capacity_pps"].require(capacity, "xhop")


def main() -> int:
    base, n, capacity = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    try:
        check(base, n, capacity)
    except LimitError as exc:
        print(f"xhop: refusing: {exc}", file=sys.stderr)
        return 2
    key = keys.from_env(keys.XHOP)
    socks = []
    for port in range(base, base + n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        s.bind(("0.0.0.0", port))
        s.setblocking(False)
        socks.append((port, s))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print(json.dumps({"event": "xhop.listening", "base": base, "n": n, "capacity_pps": capacity}), flush=True)
    tokens = {port: 0.0 for port, _ in socks}
    counts = {"read": 0, "answered": 0, "wrong_port": 0, "junk": 0}
    last = time.monotonic()
    while not stop:
        now = time.monotonic()
        grant, last = (now - last) * capacity, now
        for port, s in socks:
            tokens[port] = min(BURST, tokens[port] + grant)
            while tokens[port] >= 1:
                try:
                    data, peer = s.recvfrom(2048)
                except BlockingIOError:
                    break
                tokens[port] -= 1
                counts["read"] += 1
                req = parse_request(data)
                if req is None:
                    counts["junk"] += 1
                elif exchange_port(key, req[0], base, n) != port:
                    counts["wrong_port"] += 1
                else:
                    s.sendto(reply(*req), peer)
                    counts["answered"] += 1
        time.sleep(TICK_S)
    drops = kernel_drops({p for p, _ in socks})
    print(json.dumps({"event": "xhop.stopped", **counts, "kernel_drops": sum(drops.values()),
                      "kernel_drops_by_port": {str(p): d for p, d in sorted(drops.items())}}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
