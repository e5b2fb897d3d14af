"""The clients' logs (legit.jsonl, direct.jsonl, sapp-client.jsonl, the flood's client files):
one JSON object a request, as docs/events.md describes; read back, and summarized the one way
every report and check does it."""
from __future__ import annotations

import json
from pathlib import Path

from mtdlab.contract.events import open_no_link
from mtdlab.contract.stats import summary


def read_load(path: Path) -> list[dict]:
    with open_no_link(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def summarize(records: list[dict]) -> dict:
    failures = [r for r in records if not r["ok"]]
    return {"requests": len(records), "failures": len(failures),
            "success_rate": round(1 - len(failures) / len(records), 6) if records else None,
            "latency_ms": summary([r["latency_ms"] for r in records if r["ok"]], 3),
            "instances_seen": len({r.get("instance") for r in records if r.get("instance")}),
            "first_failures": failures[:5]}
