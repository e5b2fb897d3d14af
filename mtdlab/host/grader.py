"""`mtdlab class grade CLASS.yaml`: the class's grader for deferred exercises (defend).

The scoreboard cannot start labs (it holds no Docker access), so answers that need a trial run
wait there. The grader, on the instructor's machine, takes them one at a time from the
scoreboard's instructor API, runs each as a scenario run (`mtdlab run`, the team's seed) in the
team's class folder, and brings back the run's figures; the scoreboard scores them by the
exercise's rule. It runs until interrupted, or once through what is waiting (--once).
"""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from pathlib import Path

from exercises import EXERCISES
from mtdlab.classroom.classfile import load_class
from mtdlab.contract.wait import Condition, Timeout, wait_for
from mtdlab.host.lab import LabError

IDLE_WAIT_S = 8 * 3600    # a session's length: the grader waits this long for work, then stops
POLL_S = 5.0


class Scoreboard:
    """The scoreboard's instructor API, with the roster's instructor token."""

    def __init__(self, roster: dict):
        self.url = roster["scoreboard"]
        token = roster["instructor"]["token"]
        self.auth = "Basic " + base64.b64encode(f"instructor:{token}".encode()).decode()

    def call(self, path: str, body: dict | None = None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data, {"Authorization": self.auth,
                                                                 "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=15) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as exc:
            raise LabError(f"the scoreboard refused {path}: {exc.read()[:300].decode(errors='replace')}") from None
        except urllib.error.URLError as exc:
            raise LabError(f"the scoreboard at {self.url} does not answer: {exc.reason}") from None


def figures_of(run_dir: Path) -> dict:
    """What a deferred exercise is scored on, from the trial's summary.json."""
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"act_success_rate": summary["act_after_delay"]["success_rate"], "hops": summary["hops"],
            "duration_s": summary["duration_s"], "legit_requests": summary["legit"]["requests"],
            "legit_failures": summary["legit"]["failures"]}


def grade(path: Path, out: Path | None = None, once: bool = False, say=print) -> int:
    """Grade what waits (and, unless once, what comes) ; how many answers were graded."""
    from mtdlab.host.classroom import run_dir
    from mtdlab.host.run import run_scenario
    plan = load_class(path)
    base = run_dir(plan, out).resolve()
    try:
        board = Scoreboard(json.loads((base / "roster.json").read_text()))
    except OSError:
        raise LabError(f"no roster in {base}: is class {plan.name} up (or in another --out)?") from None
    graded = 0
    while True:
        jobs = board.call("instructor/api/pending")
        if not jobs and once:
            return graded
        if not jobs:
            try:
                wait_for(Condition(lambda: board.call("instructor/api/pending"), "an answer to grade"), IDLE_WAIT_S, POLL_S)
            except Timeout:
                return graded
            continue
        for job in jobs:
            exercise = EXERCISES[job["exercise"]]
            folder = base / job["team"] / f"{exercise.name}-{job['ref']}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "trial.yaml").write_text(exercise.trial(job["answer"], plan.team_seed(job["team"])))
            say(f"grade: team {job['team']}, {exercise.name}: a trial run in {folder}")
            try:
                trial = run_scenario(folder / "trial.yaml", out=folder / "run", say=lambda m: say(f"  {m}"))
                result = board.call("instructor/api/result", {"ref": job["ref"], "figures": figures_of(trial)})
            except (LabError, OSError, KeyError, ValueError) as exc:
                result = board.call("instructor/api/result", {"ref": job["ref"], "error": f"{type(exc).__name__}: {exc}"})
            say(f"grade: team {job['team']}, {exercise.name}: {result['reason']}, {result['points']} points. {result['detail']}")
            graded += 1
