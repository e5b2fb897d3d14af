"""The live view's cost and speed, measured (bench/results/live_view.json).

1. The demo (scenarios/demo.yaml, every compose service) for --duration seconds (default 600)
   with the page open in headless Chromium the whole time: the dashboard container's CPU (its
   cgroup's CPU time over the run, as a share of one core) and memory (sampled every 10 s),
   and, for every hop, the time from its truth-log write to the page showing it.
2. Without Docker: a simulated one-hour run with 50 services hopping at a 5 s mean, replayed
   into the live state as fast as it goes: events a second, the view's size and build time,
   and this process's resident memory at each quarter of the replay (the events are all read
   first, so growth after the first quarter is the state's: bounded, it must stay flat).
Prints the JSON and writes it.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.pagewatch import LivePage, latency_summary, update_latencies  # noqa: E402
from mtdlab.analysis.simulate import Model, simulate  # noqa: E402
from mtdlab.contract.schedule import IntervalLaw  # noqa: E402
from mtdlab.contract.stats import percentile  # noqa: E402
from mtdlab.contract.wait import HttpStatus, wait_for  # noqa: E402
from mtdlab.host.lab import Lab  # noqa: E402
from mtdlab.live.feed import ReplayFeed  # noqa: E402
from mtdlab.live.state import LiveState  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_S = 10.0


def cgroup_figures(container) -> tuple[float, float]:
    """(CPU seconds used so far, memory in MiB without the page cache) of a container."""
    s = container.stats(stream=False)
    cpu = s["cpu_stats"]["cpu_usage"]["total_usage"] / 1e9
    mem = s["memory_stats"]
    cache = mem.get("stats", {}).get("inactive_file", mem.get("stats", {}).get("total_inactive_file", 0))
    return cpu, (mem.get("usage", 0) - cache) / 2**20


def demo(duration: float, say) -> dict:
    with tempfile.TemporaryDirectory(prefix="mtdlab-bench-live-") as tmp:
        scenario = Path(tmp) / "scenario" / "demo.yaml"
        scenario.parent.mkdir()
        scenario.write_text((ROOT / "scenarios" / "demo.yaml").read_text())
        lab = Lab("mtdbench-live", scenario, Path(tmp) / "run")
        try:
            lab.up()
            url = f"http://127.0.0.1:{lab.ports['dashboard']}/"
            wait_for(HttpStatus(url + "healthz"), 60)
            page = LivePage(url)
            dash = lab.container("dashboard")
            cpu0, _ = cgroup_figures(dash)
            t0, opened = time.monotonic(), time.time()
            memory = []
            while (left := duration - (time.monotonic() - t0)) > 0:
                time.sleep(min(SAMPLE_S, left))
                memory.append(cgroup_figures(dash)[1])
                say(f"live view bench: {time.monotonic() - t0:4.0f}/{duration:g} s, dashboard {memory[-1]:.1f} MiB")
            cpu1, _ = cgroup_figures(dash)
            elapsed = time.monotonic() - t0
            time.sleep(2)   # the last hop reaches the page
            switches = [e for e in lab.events() if e["event"] == "hop.proxy_switched" and e["hop"] >= 1
                        and e["wall"] > opened]
            latencies = update_latencies(switches, page.port_changes())
            page.close()
        finally:
            lab.down()
    return {"duration_s": round(elapsed, 1), "hops": len(switches),
            "dashboard_cpu_share_of_one_core": round((cpu1 - cpu0) / elapsed, 4),
            "dashboard_memory_mib": {"p50": round(percentile(memory, 50), 1), "max": round(max(memory), 1),
                                     "first": round(memory[0], 1), "last": round(memory[-1], 1)},
            "truth_log_to_page_s": latency_summary(latencies)}


def long_replay(say) -> dict:
    with tempfile.TemporaryDirectory(prefix="mtdlab-bench-replay-") as tmp:
        law = IntervalLaw("exponential", mean_s=5.0)
        simulate(Model(law, cycle_s=10.0, services=50, duration_s=3600.0), 1, Path(tmp))
        records = ReplayFeed(tmp).records
    state = LiveState(clock=lambda: now)
    builds, sizes, rss = [], [], {}
    t0 = time.perf_counter()
    for i, (source, record) in enumerate(records):
        now = record["mono"]
        state.apply(source, record)
        if (i + 1) * 4 % len(records) < 4:
            rss[f"{round(100 * (i + 1) / len(records))}%"] = rss_mib()
        if i % 20_000 == 0:   # the page asks for views throughout
            b0 = time.perf_counter()
            sizes.append(len(json.dumps(state.view())))
            builds.append(time.perf_counter() - b0)
    took = time.perf_counter() - t0
    say(f"live view bench: replayed {len(records)} events of a 1-hour, 50-service run in {took:.1f} s")
    return {"services": 50, "run_s": 3600, "events": len(records), "events_per_s": round(len(records) / took),
            "view_bytes": {"p50": percentile(sizes, 50), "max": max(sizes)},
            "view_build_s": {"p50": round(percentile(builds, 50), 4), "max": round(max(builds), 4)},
            "process_rss_mib_at": rss}


def rss_mib() -> float:
    """This process's resident memory now (not the peak), from /proc."""
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith("VmRSS:"):
            return round(int(row.split()[1]) / 1024, 1)
    return float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=600.0, help="seconds of demo (default 600)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "live_view.json")
    args = ap.parse_args()
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    result = {"machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
              "long_run_replay": long_replay(say), "demo": demo(args.duration, say)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
