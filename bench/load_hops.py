"""Hops at load (issue 13, items 3 and 5): a scenario run as `mtdlab run` runs it, judged as a bench.

Runs one scenario (default bench/scenarios/fast-1s.yaml: every service on a fixed 1 s schedule
under 200 proxied requests/s for 10 minutes) and writes JSON: the legitimate requests and how many
failed, each service's realised mean interval against the one drawn, the hop latency per phase,
the schedule error, the controller's CPU (cgroup CPU time over wall time while the run went,
read from the engine every 10 s), and the machine's CPU over the same samples: all of it, and the
part that ran in containers (the rest is mostly Docker's own daemons, shims and storage driver
starting and removing instances: what a hop costs outside the lab).

    .venv/bin/python bench/load_hops.py [--scenario FILE] [--duration S] [--out FILE]
    .venv/bin/python bench/load_hops.py --many 50 --mean 5 --duration 600    (item 5: 50 services)

--many N makes the scenario instead: N services of the four kinds in turn (web, ssh, redis, ftp),
exponential intervals with the mean given, each its own pool of 100 ports and its own proxy port,
a legitimate user at --rate requests/s against the first web service, and users of every service
in turn (mtdlab.inlab.spread, --spread-rate connections/s, each checked in its protocol).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import docker  # noqa: E402

from mtdlab.analysis.hoplatency import phase_summary, schedule_summary  # noqa: E402
from mtdlab.contract.clientlog import read_load, summarize  # noqa: E402
from mtdlab.contract.events import read_events  # noqa: E402
from mtdlab.experiments import load_scenario  # noqa: E402
from mtdlab.host.run import run_scenario  # noqa: E402

CPU_SAMPLE_S = 10
# Where the engine accounts all containers' CPU together (cgroupfs driver): v1, then v2. With
# the systemd driver containers have no parent of their own and only the machine's total is given.
CONTAINERS_CPU = (("/sys/fs/cgroup/cpuacct/docker/cpuacct.usage", 1e-9),
                  ("/sys/fs/cgroup/docker/cpu.stat", 1e-6))
KINDS = ("web", "ssh", "redis", "ftp")


def many_services(n: int, mean_s: float, rate: float, duration: float) -> str:
    lines = [f"name: many-{n}", f"description: {n} services hopping at a {mean_s:g} s mean (make bench, issue 13 item 5)",
             "seed: 50", f"duration_s: {duration:g}", "target:", "  services:"]
    for i in range(n):
        kind = KINDS[i % len(KINDS)]
        lines += [f"    - name: {kind}{i}", f"      kind: {kind}", f"      proxy_port: {30000 + i}",
                  f"      hop: {{interval: {{law: exponential, mean_s: {mean_s:g}}}, "
                  f"pool: {{ranges: [\"{20000 + 100 * i}-{20099 + 100 * i}\"]}}}}"]
    return "\n".join(lines + ["legit:", f"  rate_per_s: {rate:g}", ""])


class SpreadUsers(threading.Thread):
    """--many: once every service is placed, legitimate users of all of them (mtdlab.inlab.spread,
    run in the lab's controller container: on the lab network, with the run's Redis password)."""

    def __init__(self, project_prefix: str, truth: Path, scenario, rate: float, seconds: float):
        super().__init__(daemon=True)
        self.prefix, self.truth, self.scenario, self.rate, self.seconds = project_prefix, truth, scenario, rate, seconds
        self.result: dict | None = None

    def run(self) -> None:
        names = {s.name for s in self.scenario.services}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            events = list(read_events(self.truth)) if self.truth.exists() else []
            if names <= {e["service"] for e in events if e["event"] == "hop.done"}:
                break
            time.sleep(1)
        else:
            self.result = {"error": "the services were not all placed within 300 s"}
            return
        started = next(e for e in events if e["event"] == "controller.started")
        controller = next(c for c in docker.from_env().containers.list(filters={"label": "mtdlab.role=controller"})
                          if c.labels.get("com.docker.compose.project", "").startswith(self.prefix))
        targets = [f"{s.kind}:{s.proxy_port}" for s in self.scenario.services]
        out = controller.exec_run(["python3", "-m", "mtdlab.inlab.spread", started["proxy_ip"], f"{self.rate:g}",
                                   f"{self.seconds:g}", *targets])
        try:
            self.result = json.loads(out.output.decode().strip().splitlines()[-1])
        except (ValueError, IndexError):
            self.result = {"error": out.output.decode()[-2000:]}


def machine_cpu_s() -> tuple[float, float | None]:
    """CPU seconds used so far: by the whole machine (/proc/stat: all but idle and iowait), and
    by all containers together (None where the engine does not account them in one place)."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")   # guest time is in user already
    for path, unit in CONTAINERS_CPU:
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        words = text.split()   # v1: the number alone; v2: "usage_usec N ..."
        return busy, int(words[words.index("usage_usec") + 1] if "usage_usec" in words else words[0]) * unit
    return busy, None


class ControllerCpu(threading.Thread):
    """Samples the run's controller container: (monotonic time, CPU seconds used so far), and
    with each sample the machine's counters (machine_cpu_s)."""

    def __init__(self, project_prefix: str):
        super().__init__(daemon=True)
        self.prefix, self.samples, self.done = project_prefix, [], threading.Event()
        self.machine: list[tuple[float, float | None]] = []   # one per sample
        self.client = docker.from_env()

    def run(self) -> None:
        while not self.done.wait(CPU_SAMPLE_S):
            for c in self.client.containers.list(filters={"label": "mtdlab.role=controller"}):
                if c.labels.get("com.docker.compose.project", "").startswith(self.prefix):
                    stats = c.stats(stream=False)
                    self.samples.append((time.monotonic(), stats["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9))
                    self.machine.append(machine_cpu_s())

    def kept(self) -> list[tuple[float, float]]:
        """The samples up to the first that does not grow (the run's end): a container that is
        stopping reports no CPU time."""
        kept = self.samples[:1]
        for t, c in self.samples[1:]:
            if c < kept[-1][1] or c == 0:
                break
            kept.append((t, c))
        return kept

    def share_of_one_core(self) -> dict:
        kept = self.kept()
        if len(kept) < 2:
            return {"mean": None, "samples": len(kept)}
        (t0, c0), (t1, c1) = kept[0], kept[-1]
        steps = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(kept, kept[1:])]
        return {"mean": round((c1 - c0) / (t1 - t0), 4), "max_10s": round(max(steps), 4),
                "over_s": round(t1 - t0, 1), "samples": len(kept)}

    def machine_cores(self) -> dict:
        """Cores busy on average over the controller's kept samples: all, in containers, outside."""
        last = len(self.kept()) - 1
        if last < 1:
            return {"busy": None}
        (t0, _), (t1, _) = self.samples[0], self.samples[last]
        (busy0, in0), (busy1, in1) = self.machine[0], self.machine[last]
        busy = (busy1 - busy0) / (t1 - t0)
        inside = None if in0 is None or in1 is None else (in1 - in0) / (t1 - t0)
        return {"cores": os.cpu_count(), "busy": round(busy, 3),
                "in_containers": None if inside is None else round(inside, 3),
                "outside_containers": None if inside is None else round(busy - inside, 3),
                "over_s": round(t1 - t0, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scenario", type=Path, default=Path("bench/scenarios/fast-1s.yaml"))
    ap.add_argument("--duration", type=float, default=None, help="seconds (default: the scenario's duration_s)")
    ap.add_argument("--out", type=Path, default=None, help="JSON (default bench/results/load-NAME.json)")
    ap.add_argument("--many", type=int, default=None, help="make a scenario of this many services instead")
    ap.add_argument("--mean", type=float, default=5.0, help="--many: mean hop interval, s (default 5)")
    ap.add_argument("--rate", type=float, default=20.0, help="--many: legitimate requests/s to the first web service (default 20)")
    ap.add_argument("--spread-rate", type=float, default=25.0,
                    help="--many: connections/s spread over every service, each in its own protocol (default 25)")
    ap.add_argument("--find-max", action="store_true",
                    help="--mean S: grow the number of services (1, 2, 3, 4, 8, 16) in runs of --duration "
                         "(default 150 s) until a request fails; writes every step, the largest that holds "
                         "(also keeps its schedule) and the largest served")
    args = ap.parse_args()
    if args.find_max:
        return find_max(args)
    if args.many:
        args.scenario = write_many(args.many, args.mean, args.rate, args.duration or 600)
    result = measure(args.scenario, args.duration, args.many, args.spread_rate)
    out = args.out or Path(f"bench/results/load-{result['name']}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


FIND_MAX_STEPS = (1, 2, 3, 4, 8, 16)
HOLDS_DRIFT = 0.05   # realised mean interval within 5% of the intervals drawn


def served(result: dict) -> bool:
    """No legitimate request failed, on the first web service or on any service."""
    legit = (result["legit"] or {}).get("failures", 0)
    spread = (result.get("users_of_every_service") or {}).get("failures")
    return legit == 0 and spread == 0


def holds(result: dict) -> bool:
    """A size holds when it is served and every schedule kept up."""
    drift = result["worst_interval_off_by"]
    return served(result) and drift is not None and drift <= HOLDS_DRIFT


def find_max(args) -> int:
    out = args.out or Path(f"bench/results/load-max-{args.mean:g}s.json")
    duration = args.duration or 150.0
    steps = []
    for n in FIND_MAX_STEPS:
        print(f"bench: find-max: {n} services at a {args.mean:g} s mean for {duration:g} s", file=sys.stderr, flush=True)
        result = measure(write_many(n, args.mean, args.rate, duration), duration, n, args.spread_rate)
        total = result["hop_latency_s"].get("total", {})
        steps.append({"services": n, "holds": holds(result), "served": served(result), "legit_failures": (result["legit"] or {}).get("failures"),
                      "users_of_every_service": result.get("users_of_every_service"),
                      "worst_interval_off_by": result["worst_interval_off_by"],
                      "hop_total_p50_s": total.get("p50"), "hop_total_p95_s": total.get("p95"),
                      "controller_cpu_of_one_core": result["controller_cpu_of_one_core"].get("mean"),
                      **({"kept_run": result["kept_run"]} if "kept_run" in result else {})})
        summary = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "mean_s": args.mean,
                   "duration_s": duration, "rule": f"0 failed requests, realised mean interval within "
                                                   f"{HOLDS_DRIFT:.0%} of the intervals drawn, for every service",
                   "largest_held": max((x["services"] for x in steps if x["holds"]), default=None),
                   "largest_served": max((x["services"] for x in steps if x["served"]), default=None),
                   "served_rule": "0 failed requests (the schedule may fall behind)", "steps": steps}
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(summary, indent=2) + "\n")     # after every step: a long search keeps what it has
        if not steps[-1]["served"]:   # past the last size that holds, how far users are still served
            break
    print(json.dumps(summary, indent=2))
    return 0


def write_many(n: int, mean: float, rate: float, duration: float) -> Path:
    path = Path(tempfile.mkdtemp(prefix="mtdbench-")) / f"many-{n}.yaml"
    path.write_text(many_services(n, mean, rate, duration))
    return path


def measure(scenario_path: Path, duration_arg: float | None, many: int | None, spread_rate: float) -> dict:
    scenario = load_scenario(scenario_path)
    cpu = ControllerCpu(f"mtdrun-{scenario.name[:16]}-")
    cpu.start()
    with tempfile.TemporaryDirectory() as tmp:
        spread = None
        if many:   # users of every service, over three quarters of the run (placing 50 takes a while)
            length = duration_arg or scenario.duration_s
            spread = SpreadUsers(f"mtdrun-{scenario.name[:16]}-", Path(tmp) / "run" / "truth.jsonl", scenario,
                                 spread_rate, max(10.0, 0.75 * length))
            spread.start()
        folder = run_scenario(scenario_path, duration_arg, Path(tmp) / "run",
                              say=lambda m: print(f"bench: {m}", file=sys.stderr, flush=True))
        cpu.done.set()
        if spread:
            spread.join(60)
        events = list(read_events(folder / "truth.jsonl"))
        legit = summarize(read_load(folder / "legit.jsonl")) if (folder / "legit.jsonl").exists() else None
        duration = json.loads((folder / "run.json").read_text())["duration_s"]
        kept = keep_if_failed(folder, scenario.name, legit, spread.result if spread else None)
    schedule = schedule_summary(events)
    scheduled = {s.name: s.hop.interval.mean for s in scenario.services}
    # Drift: the realised mean interval (switch to switch) against the mean of the intervals
    # drawn for those hops (where those cannot be paired, as after a failed hop: the law's mean).
    intervals = {name: {**got, "scheduled_mean": round(scheduled[name], 4),
                        "off_by": round(got["realised"] / (got["drawn"] or scheduled[name]) - 1, 4) if got["realised"] else None}
                 for name, got in schedule["mean_interval_s"].items()}
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count()}, "name": scenario.name,
        "scenario": str(scenario_path), "services": len(scenario.services),
        "duration_s": duration, "legit": legit,
        "hops": {name: sum(e["event"] == "hop.done" and e["service"] == name and e["hop"] >= 1 for e in events)
                 for name in scheduled},
        "realised_interval_s": intervals,
        "worst_interval_off_by": max((abs(v["off_by"]) for v in intervals.values() if v["off_by"] is not None), default=None),
        "schedule_error_s": {k: schedule[k] for k in ("begun_ahead", "begun_late")},
        "hop_latency_s": phase_summary(events),
        "controller_cpu_of_one_core": cpu.share_of_one_core(),
        "machine_cpu_cores": cpu.machine_cores(),
        **({"users_of_every_service": spread.result} if spread else {}),
        **({"kept_run": str(kept)} if kept else {}),
    }


def keep_if_failed(folder: Path, name: str, legit: dict | None, spread: dict | None) -> Path | None:
    """A run in which a legitimate request failed is copied to runs/ (truth log, users' logs,
    report), so the failure can be read against the hops around it; other runs go with their
    temporary folder."""
    if not ((legit or {}).get("failures") or (spread or {}).get("failures")):
        return None
    kept = Path("runs") / f"bench-failed-{name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
    shutil.copytree(folder, kept)
    print(f"bench: a legitimate request failed: the run is kept in {kept}", file=sys.stderr, flush=True)
    return kept


if __name__ == "__main__":
    sys.exit(main())
