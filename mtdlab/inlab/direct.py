"""Direct clients of a keyed service (seed 001): compute the port from the key and the clock,
connect to the target itself, no proxy.

In a lab: python3 -m mtdlab.inlab.direct SCENARIO TARGET_IP DURATION OUT (key in MTDLAB_KEYED_KEY).
Requests go at the scenario's direct_client rate, cycling through its clock skews, so every
skew meets the same hops. A request succeeds if the web service it meant answers 200.
"""
from __future__ import annotations

import http.client
import json
import sys
import time

from mtdlab.contract import keys
from mtdlab.contract.keyed import KeyedSchedule
from mtdlab.inlab.pacing import paced
from mtdlab.inlab.container import client_args


def schedule_for(scenario, service: str, key: bytes) -> KeyedSchedule:
    svc = scenario.service(service)
    law = svc.hop.interval
    return KeyedSchedule(key, svc.name, svc.hop.pool, law.period_s, law.grace_s)


def fetch(host: str, port: int, service: str, timeout: float = 2.0) -> dict:
    t0 = time.monotonic()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        resp.read()
        ok = resp.status == 200 and resp.getheader("X-Mtdlab-Service") == service
        result = {"ok": ok, "status": resp.status, "instance": resp.getheader("X-Mtdlab-Instance")}
    except (OSError, http.client.HTTPException) as exc:
        result = {"ok": False, "status": None, "error": type(exc).__name__}
    finally:
        conn.close()
    result["latency_ms"] = round((time.monotonic() - t0) * 1000, 3)
    return result


def main() -> int:
    scenario, host, duration, out = client_args(sys.argv, "direct")
    plan = scenario.direct_client
    ks = schedule_for(scenario, plan.service, keys.from_env(keys.KEYED))
    with open(out, "w") as f:
        for i in paced(plan.rate_per_s, duration):
            skew = plan.skews_s[i % len(plan.skews_s)]
            wall = time.time()
            port = ks.port_at(wall + skew)
            record = {"wall": round(wall, 6), "mono": round(time.monotonic(), 6), "skew_s": skew, "port": port,
                      **fetch(host, port, plan.service)}
            f.write(json.dumps(record) + "\n")
            f.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
