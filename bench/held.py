"""make bench-held: connections a user holds through the proxy while their service hops (issue 13, item 2).

One lab, three services hopping every 1-2 s (uniform). At the same time, from inside the lab
network (the controller's container, which holds the run's Redis password and the lab's SSH
login), mtdlab.inlab.held keeps:
  - one Redis connection, PING every 200 ms;
  - one HTTP keep-alive connection, GET every 100 ms;
  - one SSH session, a command every second;
for --seconds (default 45: 20 or more hops of each service; the Redis and SSH instances may finish
held connections for 120 s, past the default 30 s drain limit, which would cut them). Writes JSON (default
bench/results/held.json): each client's figures and the hops of its service while it held.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtdlab.host.lab import Lab  # noqa: E402

SCENARIO = """
name: bench-held
seed: 21
target:
  services:
    - {name: web, kind: web, hop: {interval: {law: uniform, low_s: 1, high_s: 2}, pool: {ranges: ["20000-29999"]}}}
    - {name: ssh, kind: ssh, hop: {interval: {law: uniform, low_s: 1, high_s: 2}, pool: {ranges: ["30000-39999"]}, drain_limit_s: 120}}
    - {name: redis, kind: redis, hop: {interval: {law: uniform, low_s: 1, high_s: 2}, pool: {ranges: ["40000-49999"]}, drain_limit_s: 120}}
"""
CLIENTS = {"redis": ("redis", 6379), "http": ("web", 8080), "ssh": ("ssh", 2222)}


def progress(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=45.0, help="how long each client holds (default 45)")
    ap.add_argument("--out", type=Path, default=Path("bench/results/held.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scenario.yaml"
        path.write_text(SCENARIO)
        lab = Lab("mtdbench-held", path, Path(tmp) / "run").up(("target", "proxy", "controller"))
        try:
            events = lab.wait_for(lambda l: len([e for e in l.events() if e["event"] == "hop.done"]) >= 3 and l.events(),
                                  "first placements", 90)
            started = next(e for e in events if e["event"] == "controller.started")
            controller = lab.container("controller")

            def hold(kind: str) -> dict:
                out = controller.exec_run(["python3", "-m", "mtdlab.inlab.held", kind, started["proxy_ip"],
                                           str(CLIENTS[kind][1]), started["target_ip"], str(args.seconds)])
                if out.exit_code != 0:
                    raise SystemExit(f"bench: held {kind} failed: {out.output.decode()[-2000:]}")
                return json.loads(out.output.decode().strip().splitlines()[-1])

            progress(f"holding a Redis connection, an HTTP keep-alive connection and an SSH session for {args.seconds:g} s")
            t0 = time.time()
            with ThreadPoolExecutor(len(CLIENTS)) as pool:
                results = dict(zip(CLIENTS, pool.map(hold, CLIENTS)))
            t1 = time.time()
            closed = [e for e in lab.events() if e["event"] == "hop.old_closed" and t0 <= e["wall"] <= t1]
        finally:
            lab.down()
    for kind, (service, _) in CLIENTS.items():
        results[kind]["hops_while_held"] = sum(e["service"] == service for e in closed)
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "held_s": args.seconds,
              "how": "from the controller's container on the lab network, through the proxy, all three at once; "
                     "services hop every 1-2 s (uniform)",
              "clients": results,
              "all_held_without_failure": all(r["failures"] == 0 and not r["errors"] for r in results.values()),
              "min_hops_while_held": min(r["hops_while_held"] for r in results.values())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
