"""The flooder of the flooding experiment: a bounded budget of UDP datagrams spread over k
of the n ports of a per-exchange hopping service (mtdlab.contract.xhop).

    python3 -m attacker.flood TARGET BASE N K BUDGET_PPS DURATION_S SEED

It knows the port range but not the key, so it cannot tell which port the next exchange
uses: it picks k of the n ports at random (seeded) and spreads the budget over them.
Refuses any target outside the lab network, and anything outside mtdlab.contract.limits (flood.budget_pps,
flooder_s, flood.ns). Prints one JSON line with what it sent.
"""
from __future__ import annotations

import json
import random
import socket
import sys
import time

from mtdlab.contract.limits import LIMITS, LimitError
from mtdlab.contract.scope import in_scope_or_exit

PAYLOAD = b"F" * 64


def check(budget: float, duration: float, n: int, k: int) -> None:
    """What this flooder accepts: the limits table's (LimitError otherwise)."""
    LIMITS["flood.budget_pps"].require(budget, "flood")
    LIMITS["flooder_s"].require(duration, "flood")
    LIMITS["flood.ns"].require(n, "flood")
    if not 1 <= k <= n:
        raise LimitError(f"flood: expected 1 to {n} flooded ports, got {k}")


def main() -> int:
    target, base, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    budget, duration, seed = float(sys.argv[5]), float(sys.argv[6]), int(sys.argv[7])
    try:
        check(budget, duration, n, k)
    except LimitError as exc:
        print(f"flood: refusing: {exc}", file=sys.stderr)
        return 2
    ip = in_scope_or_exit(target, "flood")
    rng = random.Random(seed)
    ports = rng.sample(range(base, base + n), k)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = errors = 0
    total = int(budget * duration)
    start = time.monotonic()
    due = start
    # Poisson arrivals on randomly chosen ports, as many independent senders would give: a
    # paced, round-robin flood leaves regular gaps that legitimate datagrams slip through,
    # and a model of steady rates would not describe it.
    while sent < total:
        now = time.monotonic()
        while due <= now and sent < total:
            try:
                sock.sendto(PAYLOAD, (ip, rng.choice(ports)))
            except OSError:
                errors += 1
            sent += 1
            due += rng.expovariate(budget)
        time.sleep(max(0.0, min(due - time.monotonic(), 0.01)))
    elapsed = time.monotonic() - start
    # Monotonic times are the host's (one clock for every container), so the client's
    # exchanges can be checked to lie inside the flood.
    print(json.dumps({"event": "flood.done", "start_mono": round(start, 6), "end_mono": round(time.monotonic(), 6),
                      "target": ip, "ports": sorted(ports), "sent": sent, "errors": errors,
                      "elapsed_s": round(elapsed, 3), "achieved_pps": round(sent / elapsed, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
