"""A legitimate user: requests at a steady rate through the proxy, a new connection each.

Bounded in count and time (rate x duration, at most 500 req/s and one hour), and it only
talks to the URL it is given: `mtdlab load` on the host allows loopback only, and inside a
lab (`python3 -m mtdlab.inlab.legit`, as scenario runs use it) only the lab's own network.
Each request becomes one JSON line: when it was sent, how long it took, what answered.
"""
from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from mtdlab.contract.limits import LIMITS
from mtdlab.contract.clientlog import summarize



def one_request(host: str, port: int, path: str, timeout: float) -> dict:
    t0_wall, t0 = time.time(), time.monotonic()
    record = {"wall": round(t0_wall, 6), "mono": round(t0, 6)}
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        resp = conn.getresponse()
        resp.read()
        record.update(status=resp.status, ok=resp.status == 200, instance=resp.getheader("X-Mtdlab-Instance"))
    except (OSError, http.client.HTTPException) as exc:
        record.update(status=None, ok=False, error=f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()
    record["latency_ms"] = round((time.monotonic() - t0) * 1000, 3)
    return record


def run_load(url: str, rate: float, duration: float, out: Path, timeout: float = 5.0,
             progress=None) -> dict:
    LIMITS["legit.rate_per_s"].require(rate, "mtdlab load")
    LIMITS["duration_s"].require(duration, "mtdlab load")
    parts = urlsplit(url)
    host, port, path = parts.hostname, parts.port or 80, parts.path or "/"
    out.parent.mkdir(parents=True, exist_ok=True)
    total = int(rate * duration)
    lock, records = threading.Lock(), []
    # Line-buffered: the live view follows this log as it grows, a request at a time.
    with open(out, "w", buffering=1) as f, ThreadPoolExecutor(max_workers=32) as pool:
        def record(fut):
            r = fut.result()
            with lock:
                records.append(r)
                f.write(json.dumps(r) + "\n")
        start = time.monotonic()
        for i in range(total):
            # Paced by the clock, not by answers, so a slow answer does not lower the rate.
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one_request, host, port, path, timeout).add_done_callback(record)
            if progress and i % max(1, int(rate * 10)) == 0:
                progress(i, total, records)
    return summarize(records)


def main() -> int:
    """In-lab entry: python3 -m mtdlab.inlab.legit URL RATE DURATION OUT; prints the summary as JSON."""
    import sys
    from mtdlab.contract.scope import in_scope_or_exit
    url, rate, duration, out = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])
    in_scope_or_exit(urlsplit(url).hostname or "", "legit")
    print(json.dumps(run_load(url, rate, duration, out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
