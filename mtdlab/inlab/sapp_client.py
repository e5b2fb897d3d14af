"""Legitimate clients through a SAPP gateway (seed 000): one connection after another, cycling
through every service of the target, each opened with a preamble and checked by the service's
own protocol (HTTP 200, SSH greeting, Redis PONG, FTP 220), across whatever hops happen.

In a lab: python3 -m mtdlab.inlab.sapp_client SCENARIO TARGET_IP DURATION OUT (key in MTDLAB_SAPP_KEY).
"""
from __future__ import annotations

import json
import sys
import time

from mtdlab.contract.catalog import SERVICE_KINDS
from mtdlab.contract import keys
from mtdlab.inlab.pacing import paced
from mtdlab.inlab.probes import PROBES, NotReady
from mtdlab.contract.sapp import open_stream, service_codes
from mtdlab.inlab.container import client_args


def through_gateway(host: str, port: int, key: bytes, service: str, kind: str, code: int,
                    timeout: float = 3.0) -> dict:
    t0 = time.monotonic()
    connect = lambda h, p, t: open_stream(h, p, key, code, t)  # noqa: E731
    try:
        answer = PROBES[SERVICE_KINDS[kind].probe](host, port, timeout=timeout, connect=connect)
        result = {"ok": True, "answer": answer[:60]}
    except (OSError, NotReady) as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
    result["latency_ms"] = round((time.monotonic() - t0) * 1000, 3)
    return result


def main() -> int:
    scenario, host, duration, out = client_args(sys.argv, "sapp_client")
    key = keys.from_env(keys.SAPP)
    codes = service_codes(s.name for s in scenario.services)
    rate = scenario.sapp_client.rate_per_s if scenario.sapp_client else 10.0
    with open(out, "w") as f:
        for i in paced(rate, duration):
            svc = scenario.services[i % len(scenario.services)]
            record = {"wall": round(time.time(), 6), "mono": round(time.monotonic(), 6), "service": svc.name,
                      **through_gateway(host, scenario.sapp.port, key, svc.name, svc.kind, codes[svc.name])}
            f.write(json.dumps(record) + "\n")
            f.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
