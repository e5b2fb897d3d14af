"""Legitimate users of every service at once: one new connection at a time through the proxy,
in turn over the services given, each checked in its own protocol (issue 13, item 5).

    python3 -m mtdlab.inlab.spread PROXY_IP RATE SECONDS KIND:PORT [KIND:PORT ...]

Each is checked by the controller's readiness probe for its kind (mtdlab.inlab.probes): web
GET / answers 200, redis +PONG after AUTH with the run's password (from the environment), an
SSH or FTP greeting. RATE connections a
second in all, for SECONDS; prints one JSON line: per kind, how many and how many failed, and the
first failures. Bounded: RATE and SECONDS within the legitimate client's limits; talks only to
the lab's addresses.
"""
from __future__ import annotations

import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from mtdlab.contract.catalog import SERVICE_KINDS
from mtdlab.contract.limits import LIMITS
from mtdlab.contract.scope import in_scope_or_exit
from mtdlab.inlab.probes import PROBES, NotReady

TIMEOUT_S = 5.0
KEEP_ERRORS = 10


def check(kind: str, host: str, port: int) -> str | None:
    """None if the service answered as it should (the controller's own readiness probe for its
    kind, with the run's Redis password from the environment); else what went wrong."""
    try:
        PROBES[SERVICE_KINDS[kind].probe](host, port, TIMEOUT_S)
        return None
    except NotReady as exc:
        return str(exc)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def main() -> int:
    host, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    targets = [(t.split(":")[0], int(t.split(":")[1])) for t in sys.argv[4:]]
    LIMITS["legit.rate_per_s"].require(rate, "spread")
    LIMITS["duration_s"].require(seconds, "spread")
    in_scope_or_exit(host, "spread")
    if not targets or any(k not in ("web", "redis", "ssh", "ftp") for k, _ in targets):
        raise SystemExit("spread: give KIND:PORT for each service (web, redis, ssh, ftp)")
    counts = {k: {"requests": 0, "failures": 0} for k, _ in targets}
    errors: list[str] = []
    start, n = time.monotonic(), 0

    lock = threading.Lock()

    def one(kind: str, port: int, at: float) -> None:
        problem = check(kind, host, port)
        with lock:
            counts[kind]["requests"] += 1
            if problem:
                counts[kind]["failures"] += 1
                if len(errors) < KEEP_ERRORS:
                    errors.append(f"{at:.1f} s {kind}:{port}: {problem}")

    with ThreadPoolExecutor(max_workers=16) as pool:
        while (now := time.monotonic()) - start < seconds:
            kind, port = targets[n % len(targets)]
            pool.submit(one, kind, port, now - start)
            n += 1
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
    print(json.dumps({"rate_per_s": rate, "seconds": seconds, "services": len(targets), "by_kind": counts,
                      "requests": sum(c["requests"] for c in counts.values()),
                      "failures": sum(c["failures"] for c in counts.values()), "first_failures": errors}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
