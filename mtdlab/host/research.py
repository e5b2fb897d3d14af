"""The research commands of `mtdlab` (docs/sweeps.md): a sweep of scenario runs, and a rerun
of one run held to its own intervals. The work is mtdlab.research's; this is its command line."""
from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path


def sweep(args) -> int:
    """`mtdlab sweep SWEEP.yaml [--out DIR] [--report]`."""
    from mtdlab.contract.scenario import ScenarioError
    from mtdlab.host.lab import LabError
    from mtdlab.research.report import write_sweep
    from mtdlab.host.run import Interrupted, run_scenario
    from mtdlab.research.runner import SweepError, run_sweep
    from mtdlab.research.sweepfile import load_sweep
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    try:
        sweep = load_sweep(args.sweep_file)
    except ScenarioError as exc:
        print(f"mtdlab sweep: invalid sweep: {exc}", file=sys.stderr)
        return 2
    out = args.out or Path("runs") / f"sweep-{sweep.name}"
    if args.report and not (out / "plan.json").is_file():
        print(f"mtdlab sweep: {out} holds no sweep (no plan.json); give the sweep's --out", file=sys.stderr)
        return 2
    try:
        if not args.report:
            parallel, reserve, stop = 1, None, threading.Event()
            if args.engine == "swarm":
                from mtdlab.host.engines import reservation
                from mtdlab.host.swarm import SWEEP_RUN_CPUS, capacity, require_manager
                require_manager()
                reserve = reservation(args.lab_cpus or SWEEP_RUN_CPUS, args.lab_memory_mib)
                parallel = max(1, capacity(reserve["cpus"]))
            say(f"sweep: {sweep.name}: {sweep.points} points x {sweep.repetitions} repetitions = {len(sweep.runs)} runs; "
                f"folder {out}" + (f"; on Swarm, {parallel} at a time ({reserve['cpus']:g} cores each)" if reserve else ""))

            def interrupt(*_):
                raise Interrupted()
            signal.signal(signal.SIGTERM, interrupt)   # side by side, the runs are not in the main thread
            run_sweep(sweep, out, say, lambda scenario, duration, folder, say: run_scenario(
                scenario, duration, folder, say=say, engine=args.engine, reserve=reserve, stop=stop),
                after_each=write_sweep, parallel=parallel, stop=stop)
        else:
            from mtdlab.reporting.report import write_report
            from mtdlab.research.runner import finished
            for r in sweep.runs:      # the runs' own figures first, with the metrics of this version
                if finished(out / r.id):
                    write_report(out / r.id)
        data = write_sweep(out)
    except (LabError, SweepError) as exc:
        print(f"mtdlab sweep: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Interrupted):      # Ctrl-C, or SIGTERM (run_scenario tore the lab down)
        if (out / "plan.json").is_file():
            write_sweep(out)
        print(f"mtdlab sweep: interrupted; finished runs are kept in {out}: the same command goes on from there",
              file=sys.stderr)
        return 130
    say(f"sweep: report {out / 'sweep.html'}")
    print(json.dumps({"folder": str(out), "runs": data["runs"], "finished": data["finished"],
                      "nearest_m1": data["nearest_m1"]}, indent=2))
    return 0


def rerun(args) -> int:
    """`mtdlab rerun RUN_DIR [--out NEW]`."""
    from mtdlab.host.lab import LabError
    from mtdlab.contract.scenario import ScenarioError
    from mtdlab.host.run import Interrupted, run_scenario
    from mtdlab.research.manifest import compare_runs
    old = args.run_dir
    if not (old / "summary.json").is_file() or not (old / "scenario.yaml").is_file():
        print(f"mtdlab rerun: {old} is not a finished run folder (no summary.json and scenario.yaml)", file=sys.stderr)
        return 2
    meta = json.loads((old / "run.json").read_text()) if (old / "run.json").is_file() else {}
    out = args.out or old.with_name(f"{old.name}-rerun-{time.strftime('%Y%m%d-%H%M%S')}")
    try:
        run_scenario(old / "scenario.yaml", meta.get("duration_s"), out,
                     say=lambda m: print(m, file=sys.stderr, flush=True), engine=meta.get("engine", "local"))
    except ScenarioError as exc:   # a folder from an older version whose scenario no longer validates
        print(f"mtdlab rerun: invalid scenario: {exc}", file=sys.stderr)
        return 2
    except LabError as exc:
        print(f"mtdlab rerun: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Interrupted):
        print("mtdlab rerun: interrupted; the lab was removed", file=sys.stderr)
        return 130
    verdict = compare_runs(old, out)
    print(json.dumps(verdict, indent=2))
    return 0 if verdict["all_inside"] else 1
