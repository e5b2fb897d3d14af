"""What the controller runs inside the gateway container (docker exec), since the services
listen on the target's loopback, which only the namespace itself can reach:

    python3 -m gateway.ctl set web=12345 ssh=23456 ...        replace the service map
                      (plain words: the Docker API fence refuses exec bodies with escapes)
    python3 -m gateway.ctl ready PROBE PORT TIMEOUT INSTANCE  wait until the instance answers
    python3 -m gateway.ctl drained TIMEOUT PORT...            wait until no connection uses PORTs

Each prints one JSON line; exit 1 means the condition was not reached.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from mtdlab.inlab.probes import NotReady, wait_ready
from mtdlab.contract.wait import Condition, Timeout, wait_for

from .state import read_map, write_map

ESTABLISHED = "01"


def established_ports(tcp_table: str) -> list[int]:
    """Local and remote ports of every established connection in a /proc/net/tcp table."""
    ports = []
    for line in tcp_table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 3 and fields[3] == ESTABLISHED:
            ports += [int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)]
    return ports


def main(argv: list[str]) -> int:
    cmd = argv[0]
    if cmd == "set":
        write_map({k: int(v) for k, v in (word.split("=", 1) for word in argv[1:])})
        print(json.dumps(read_map()))
        return 0
    if cmd == "ready":
        probe, port, timeout, instance = argv[1], int(argv[2]), float(argv[3]), argv[4]
        try:
            answer, attempts = wait_ready(probe, "127.0.0.1", port, timeout, expect=instance)
        except NotReady as exc:
            print(json.dumps({"ready": False, "reason": str(exc)}))
            return 1
        print(json.dumps({"ready": True, "answer": answer, "attempts": attempts}))
        return 0
    if cmd == "drained":
        timeout, ports = float(argv[1]), {int(p) for p in argv[2:]}
        def busy() -> set[int]:
            return ports & set(established_ports(Path("/proc/net/tcp").read_text()))
        try:
            wait_for(Condition(lambda: not busy(), f"connections to {sorted(ports)} ended"), timeout)
        except Timeout:
            print(json.dumps({"drained": False, "busy_ports": sorted(busy())}))
            return 1
        print(json.dumps({"drained": True}))
        return 0
    print(f"gateway.ctl: unknown command {cmd!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
