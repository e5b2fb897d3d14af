"""make bench-class: how many team labs this machine holds side by side (bench/results/class_scale.json).

For each pace (the demo's scenario, hops every 5-15 s; and bench/scenarios/demo-30s.yaml, the same
lab hopping every 30 s as in seed 003) and each N (default 1, 2, 3, 5, 10, 20, stopping after the
first that does not hold or cannot start; --past-first-miss goes on): `mtdlab class up` of N teams
(each with its workstation; one scoreboard), a settling minute, then a measured window: every
class running container's CPU (cgroup time over the window, in cores) and memory at its end, hops and hop
latency (decided -> users on the new port, `new_port_live`, p50/p95 over every team), the whole
machine's busy CPU share (dockerd's container starts are in no container's cgroup), and the
demo's legitimate users' requests and failures in every team. Then `class down`. A step that
cannot start (ports, memory, the engine's address pools) is recorded with its error.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mtdlab.analysis.hoplatency import phase_samples  # noqa: E402
from mtdlab.contract.events import read_events  # noqa: E402
from mtdlab.contract.stats import percentile  # noqa: E402
from mtdlab.host import classroom  # noqa: E402
from mtdlab.host.lab import LabError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SETTLE_S = 60.0
HELD = "every container running, 0 failed legitimate requests, hop p95 (decided -> users on the new port) <= 2 s"


def class_containers(client, name: str) -> list:
    prefix = f"mtdclass-{name}-"
    # The low-level list: the high-level one inspects each container and fails on one a hop just removed.
    return [client.containers.prepare_model(c) for c in client.api.containers()
            if ((c.get("Labels") or {}).get("com.docker.compose.project")
                or (c.get("Labels") or {}).get("mtdlab.lab") or "").startswith(prefix)]


def cpu_seconds(containers) -> dict[str, float]:
    out = {}
    for c in containers:
        try:
            out[c.id] = c.stats(stream=False, one_shot=True)["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
        except Exception:   # an instance removed by a hop meanwhile
            pass
    return out


def memory_mib(containers) -> float:
    total = 0.0
    for c in containers:
        try:
            m = c.stats(stream=False, one_shot=True)["memory_stats"]
            total += (m.get("usage", 0) - m.get("stats", {}).get("inactive_file", 0)) / 2**20
        except Exception:
            pass
    return round(total, 1)


def step(n: int, scenario: Path, window: float, tmp: Path, say, engine: str = "local") -> dict:
    import docker
    client = docker.from_env()
    name = f"b{n}-{scenario.stem[:8]}"
    path = tmp / f"{name}.yaml"
    path.write_text(f"name: {name}\nscenario: {scenario}\nteams: {n}\nseed: {n}\nport_base: 30000\n")
    t0 = time.monotonic()
    try:
        folder = classroom.class_up(path, tmp / name, say, engine=engine)
    except (LabError, Exception) as exc:   # recorded, not raised: the step says where it stopped
        return {"teams": n, "held": False, "error": f"{type(exc).__name__}: {str(exc)[-300:]}"}
    up_s = time.monotonic() - t0
    try:
        time.sleep(SETTLE_S)
        start_wall = time.time()
        before = cpu_seconds(class_containers(client, name))
        host_before = host_cpu()
        began = time.monotonic()
        time.sleep(window)
        containers = class_containers(client, name)
        after = cpu_seconds(containers)
        host_busy = host_cpu_share(host_before, host_cpu())
        elapsed = time.monotonic() - began
        cores = sum(after[k] - before[k] for k in after if k in before) / elapsed
        memory = memory_mib(containers)
        status = classroom.class_status(path)
        live, requests = [], []
        for team in (folder / t for t in json.loads((folder / "class.json").read_text())["teams"]):
            events = list(read_events(team / "truth.jsonl"))
            # Whole hops decided inside the window (a team's own: teams share service names).
            inside = {(e["service"], e["hop"]) for e in events if e["event"] == "hop.decided" and e["wall"] >= start_wall}
            hops = [e for e in events if (e.get("service"), e.get("hop")) in inside]
            live += [x for xs in phase_samples(hops).get("new_port_live", {}).values() for x in xs]
            legit = team / "users" / "legit.jsonl"
            if legit.exists():
                rows = [json.loads(x) for x in legit.read_text().splitlines() if x.endswith("}")]
                requests += [r for r in rows if r["wall"] >= start_wall]
        failures = sum(not r["ok"] for r in requests)
        result = {"teams": n, "engine": engine, "up_s": round(up_s, 1), "window_s": round(elapsed, 1),
                  "containers": len(containers), "class_containers_cpu_cores": round(cores, 2),
                  "host_cpu_busy_share": round(host_busy, 3), "memory_mib": memory,
                  "hops": len(live), "hop_new_port_live_s": {"p50": _r(percentile(live, 50)), "p95": _r(percentile(live, 95))},
                  "legit_requests": len(requests), "legit_failures": failures,
                  "all_healthy": all(r["healthy"] for r in status)}
        result["held"] = bool(result["all_healthy"] and failures == 0 and live
                              and result["hop_new_port_live_s"]["p95"] <= 2.0)
        return result
    finally:
        classroom.class_down(path, say=lambda m: None)


def host_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine (/proc/stat): dockerd's and the kernel's work too,
    which no container's cgroup counts."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]   # idle + iowait
    return sum(fields) - idle, sum(fields)


def host_cpu_share(a: tuple[int, int], b: tuple[int, int]) -> float:
    return (b[0] - a[0]) / max(1, b[1] - a[1])


def _r(x):
    return None if x is None else round(x, 3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--teams", default="1,2,3,5,10,20", help="the N to try, in order (default 1,2,3,5,10,20)")
    ap.add_argument("--scenarios", default="scenarios/demo.yaml,bench/scenarios/demo-30s.yaml",
                    help="the paces to try, comma-separated scenario files (default: demo, demo at 30 s)")
    ap.add_argument("--window", type=float, default=120.0, help="measured seconds per N (default 120)")
    ap.add_argument("--past-first-miss", action="store_true",
                    help="go on growing N after a step that did not hold (default: stop there)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "class_scale.json")
    args = ap.parse_args()
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    # The file keeps every pace measured; a run replaces the paces it measures, step by step, so
    # an interrupted run keeps what it measured.
    result = json.loads(args.out.read_text()) if args.out.exists() else {}
    result.update({"settle_s": SETTLE_S, "window_s": args.window, "held_means": HELD})
    paces = {p["scenario"]: p for p in result.get("paces", [])}
    with tempfile.TemporaryDirectory(prefix="mtdlab-bench-class-") as tmp:
        for scenario in args.scenarios.split(","):
            steps = []
            for n in [int(x) for x in args.teams.split(",")]:
                say(f"bench-class: {scenario}, {n} team(s)")
                steps.append(step(n, (ROOT / scenario).resolve(), args.window, Path(tmp), say))
                say(f"bench-class: {json.dumps(steps[-1])}")
                paces[scenario] = {"scenario": scenario, "steps": steps,
                                   "largest_held": max([s["teams"] for s in steps if s.get("held")], default=0)}
                result["paces"] = list(paces.values())
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(result, indent=2) + "\n")
                if "error" in steps[-1] or not (steps[-1].get("held") or args.past_first_miss):
                    break
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
