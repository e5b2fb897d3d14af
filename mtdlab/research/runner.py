"""`mtdlab sweep`: every run of a sweep, one after another (or side by side on Swarm), in one folder that survives Ctrl-C
and crashes.

    OUT/sweep.yaml         the sweep file as given        OUT/plan.json   its runs and digest
    OUT/scenarios/ID.yaml  each run's scenario            OUT/ID/         each run's folder
    OUT/sweep.json         the points' figures            OUT/sweep.html  the report

A run whose folder holds summary.json is finished and kept; any other folder of a run is what
an interrupted run left, and is removed before that run starts again. Running the same command
again therefore goes on where the last one stopped; a folder made by a different sweep is
refused rather than mixed in.
"""
from __future__ import annotations

import json
import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

from mtdlab.research.sweepfile import RunPlan, Sweep, show_value

class SweepError(Exception):
    """The sweep folder cannot take this sweep (the message says why and what to do)."""


OVERHEAD_GUESS_S = 40.0   # a run's start, teardown and report beyond its duration, until one is timed


def finished(folder: Path) -> bool:
    return (folder / "summary.json").is_file()


def prepare(sweep: Sweep, out: Path) -> list[RunPlan]:
    """Make or check the sweep folder; the runs still to do, in order."""
    out.mkdir(parents=True, exist_ok=True)
    plan_file = out / "plan.json"
    if plan_file.exists():
        old = json.loads(plan_file.read_text())
        if old.get("digest") != sweep.digest:
            raise SweepError(f"{out} holds another sweep (or this one changed since: digest {old.get('digest')} "
                           f"!= {sweep.digest}); give another --out, or remove the folder")
    elif any(p for p in out.iterdir()):
        raise SweepError(f"{out} is not empty and holds no sweep; give another --out")
    else:
        (out / "sweep.yaml").write_text(sweep.source)
        plan_file.write_text(json.dumps({
            "sweep": sweep.name, "digest": sweep.digest, "base": sweep.base_file, "duration_s": sweep.duration_s,
            "repetitions": sweep.repetitions,
            "runs": [{"id": r.id, "point": r.point, "rep": r.rep, "seed": r.seed, "params": dict(r.params)}
                     for r in sweep.runs]}, indent=2) + "\n")
    (out / "scenarios").mkdir(exist_ok=True)
    for r in sweep.runs:
        (out / "scenarios" / f"{r.id}.yaml").write_text(r.scenario_text)
    return [r for r in sweep.runs if not finished(out / r.id)]


def run_sweep(sweep: Sweep, out: Path, say, run_one: Callable, after_each: Callable | None = None,
              parallel: int = 1, stop: threading.Event | None = None) -> int:
    """Run what is left of the sweep; returns how many runs this call made. run_one(scenario,
    duration, folder, say) makes one run folder (`mtdlab sweep` passes mtdlab.host.run's
    run_scenario); after_each(out) refreshes sweep.json and the report. parallel > 1 runs that
    many at once (on Swarm, one per stated CPU reservation); stop is the event their run_one
    watches: set when one fails or the sweep is interrupted, so every run still going tears its
    lab down before the error goes on."""
    todo = prepare(sweep, out)
    total, done_before = len(sweep.runs), len(sweep.runs) - len(todo)
    if done_before:
        say(f"sweep: {done_before} of {total} runs already finished in {out}; going on with the other {len(todo)}")
    if parallel > 1:
        return _run_side_by_side(sweep, todo, out, say, run_one, after_each, parallel, stop or threading.Event())
    took = []
    for k, r in enumerate(todo):
        folder = out / r.id
        if folder.exists():
            say(f"sweep: {r.id} was interrupted before; starting it again")
            shutil.rmtree(folder)
        per_run = sum(took) / len(took) if took else (sweep.duration_s or 300) + OVERHEAD_GUESS_S
        left = per_run * (len(todo) - k)
        label = ", ".join(f"{p} = {show_value(v)}" for p, v in r.params) or "base"
        say(f"sweep: run {done_before + k + 1}/{total} {r.id} ({label}, seed {r.seed}); "
            f"about {_clock(left)} left")
        began = time.monotonic()
        run_one(out / "scenarios" / f"{r.id}.yaml", sweep.duration_s, folder,
                lambda m, rid=r.id: say(f"  {rid} {m}"))
        took.append(time.monotonic() - began)
        if after_each:
            after_each(out)
    return len(todo)


def _run_side_by_side(sweep: Sweep, todo: list[RunPlan], out: Path, say, run_one: Callable,
                      after_each: Callable | None, parallel: int, stop: threading.Event) -> int:
    total, done_before = len(sweep.runs), len(sweep.runs) - len(todo)
    per_run = (sweep.duration_s or 300) + OVERHEAD_GUESS_S
    say(f"sweep: {len(todo)} runs, {parallel} at a time; about {_clock(per_run * -(-len(todo) // parallel))} left")

    def one(r: RunPlan) -> None:
        if stop.is_set():
            return
        folder = out / r.id
        if folder.exists():
            say(f"sweep: {r.id} was interrupted before; starting it again")
            shutil.rmtree(folder)
        label = ", ".join(f"{p} = {show_value(v)}" for p, v in r.params) or "base"
        say(f"sweep: {r.id} starting ({label}, seed {r.seed})")
        run_one(out / "scenarios" / f"{r.id}.yaml", sweep.duration_s, folder, lambda m, rid=r.id: say(f"  {rid} {m}"))

    pool = ThreadPoolExecutor(parallel, thread_name_prefix="sweep-run")
    futures = {pool.submit(one, r): r for r in todo}
    began, made = time.monotonic(), 0
    try:
        for future in as_completed(futures):
            future.result()   # a failed run fails the sweep, as it does one run after another
            made += 1
            if after_each:
                after_each(out)
            rate = (time.monotonic() - began) / made
            say(f"sweep: {futures[future].id} finished; {done_before + made}/{total} done; "
                f"about {_clock(rate * (len(todo) - made))} left")
    except BaseException:
        stop.set()                                  # the runs still going tear their labs down
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown()
    return made


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"
