"""A class's submissions and scores: judges each submission at once against the team's truth log
and the exercise's checker, keeps every submission (with the reason when it scored nothing) in
an append-only log, and computes the scoreboard and the exports from that log.

The class folder (`mtdlab class up`) holds what the board needs: class.json (teams, exercises,
grace), class.key (the class secret: every team's flags), board.json (hashes of the teams' and
the instructor's tokens; the roster holds the tokens) and each team's truth log. The board
writes board/submissions.jsonl and nothing else.
"""
from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from exercises import EXERCISES
from mtdlab.classroom.checking import ACCEPTED, NO_TRIES, PENDING, REPLAYED, WRONG, Context, Verdict, refuse
from mtdlab.classroom.truth import TeamTruth
from mtdlab.contract import flags, keys

MAX_ANSWER = 8192                 # characters; the longest real answer (keyed client) is ~1 KiB
SUBMISSIONS_PER_MINUTE = 30       # per team: answers are judged at once, so a team cannot flood the log
DEFAULT_GRACE_S = 30.0


class BoardError(ValueError):
    """A submission that cannot be judged at all (no such team token, exercise or answer)."""


def spreadsheet_safe(value):
    """A team's answer opened in a spreadsheet must stay text, never become a formula."""
    return "'" + value if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def token_hash(token: str) -> str:
    return hashlib.sha256(f"mtdlab-token|{token}".encode()).hexdigest()


@dataclass
class Submission:
    wall: float
    team: str
    exercise: str
    answer: str
    via: str
    points: int
    reason: str
    detail: str
    key: str | None
    ref: str | None = None      # a deferred answer's, shared by its pending row and its result row

    def row(self) -> dict:
        return dict(self.__dict__)


class ClassBoard:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        meta = json.loads((self.folder / "class.json").read_text())
        self.name = meta["class"]
        self.teams: list[str] = meta["teams"]
        self.exercises = [EXERCISES[name] for name in meta["exercises"]]
        self.grace_s = float(meta.get("grace_s", DEFAULT_GRACE_S))
        self.live_views: dict[str, str] = meta.get("live_views", {})
        secret = keys.from_file(keys.CLASS, self.folder / keys.CLASS.file)
        self.team_keys = {t: flags.team_key(secret, t) for t in self.teams}
        hashes = json.loads((self.folder / "board.json").read_text())
        self.team_tokens: dict[str, str] = hashes["teams"]          # team -> token hash
        self.instructor_token: str = hashes["instructor"]
        self.truths = {t: TeamTruth(t, self.folder / t / "truth.jsonl") for t in self.teams}
        self.log_path = self.folder / "board" / "submissions.jsonl"
        self.log_path.parent.mkdir(exist_ok=True)
        self.submissions: list[Submission] = []
        if self.log_path.exists():                 # a restarted board keeps what was scored
            self.submissions = [Submission(**json.loads(line)) for line in self.log_path.read_text().splitlines() if line]
        self.lock = threading.Lock()

    # --- who is asking ---
    def team_of(self, token: str) -> str | None:
        digest = token_hash(token.strip())
        return next((t for t, h in self.team_tokens.items() if hmac.compare_digest(h, digest)), None)

    def is_instructor(self, token: str) -> bool:
        return hmac.compare_digest(self.instructor_token, token_hash(token.strip()))

    # --- judging ---
    def submit(self, token: str, exercise: str, answer: str, via: str = "web", now: float | None = None) -> tuple[str, Verdict]:
        team = self.team_of(token or "")
        if team is None:
            raise BoardError("that is not a team token of this class (the roster has your team's)")
        chosen = next((e for e in self.exercises if e.name == exercise), None)
        if chosen is None:
            raise BoardError(f"no exercise {exercise!r} in this class; its exercises: {', '.join(e.name for e in self.exercises)}")
        answer = (answer or "").strip()
        if not answer or len(answer) > MAX_ANSWER:
            raise BoardError(f"an answer is 1 to {MAX_ANSWER} characters")
        with self.lock:
            now = time.time() if now is None else now
            recent = [s for s in self.submissions if s.team == team and now - s.wall < 60]
            if len(recent) >= SUBMISSIONS_PER_MINUTE:
                raise BoardError(f"at most {SUBMISSIONS_PER_MINUTE} submissions a minute per team; wait a little")
            verdict = self.judge(team, chosen, answer, now)
            ref = secrets.token_hex(8) if verdict.reason == PENDING else None
            self.record(Submission(round(now, 3), team, chosen.name, answer, via, verdict.points, verdict.reason,
                                   verdict.detail, verdict.key, ref))
        return team, verdict

    def judge(self, team: str, exercise, answer: str, now: float) -> Verdict:
        for truth in self.truths.values():
            truth.refresh()
        why_not = exercise.available(self.truths[team])
        if why_not:
            return refuse("not-available", why_not)
        if exercise.deferred:
            refused = self.deferred_refusal(team, exercise)
            if refused:
                return refused
        ctx = Context(team, now, self.truths[team], {t: tr for t, tr in self.truths.items() if t != team},
                      self.team_keys[team], self.grace_s)
        verdict = exercise.check(answer, ctx)
        if verdict.key is None:
            return verdict
        mine = [s for s in self.submissions if s.team == team and s.exercise == exercise.name and s.key == verdict.key]
        if any(s.reason == ACCEPTED for s in mine):
            return Verdict(0, REPLAYED, "already scored", verdict.key)
        wrong = sum(s.reason == "wrong" for s in mine)
        if exercise.max_tries is not None and wrong >= exercise.max_tries:
            return Verdict(0, NO_TRIES, f"{exercise.max_tries} wrong answers for this already", verdict.key)
        return verdict

    def deferred_refusal(self, team: str, exercise) -> Verdict | None:
        mine = [s for s in self.submissions if s.team == team and s.exercise == exercise.name]
        if any(s.reason == ACCEPTED for s in mine):
            return Verdict(0, REPLAYED, "already scored", None)
        if exercise.max_tries is not None and sum(s.reason == WRONG for s in mine) >= exercise.max_tries:
            return Verdict(0, NO_TRIES, f"{exercise.max_tries} wrong answers for this already", None)
        if any(s.ref in self._waiting() for s in mine):
            return refuse("busy", "a trial of yours is still waiting for the grader; submit again after its result")
        return None

    def _waiting(self) -> set[str]:
        done = {s.ref for s in self.submissions if s.ref and s.reason != PENDING}
        return {s.ref for s in self.submissions if s.reason == PENDING and s.ref not in done}

    # --- deferred answers: the class's grader takes them and brings back the trial's figures ---
    def pending(self) -> list[dict]:
        with self.lock:
            waiting = self._waiting()
            return [{"ref": s.ref, "team": s.team, "exercise": s.exercise, "answer": s.answer}
                    for s in self.submissions if s.reason == PENDING and s.ref in waiting]

    def resolve(self, ref: str, figures: dict | None = None, error: str | None = None,
                now: float | None = None) -> Verdict:
        with self.lock:
            row = next((s for s in self.submissions if s.ref == ref and s.reason == PENDING), None)
            if row is None or ref not in self._waiting():
                raise BoardError(f"no answer {ref!r} is waiting for a result")
            exercise = EXERCISES[row.exercise]
            if error is not None:
                verdict = refuse("trial-failed", f"the trial could not run ({str(error)[:200]}); submit again")
            else:
                try:
                    verdict = exercise.score(figures or {})
                except (KeyError, TypeError, ValueError) as exc:
                    raise BoardError(f"the figures are incomplete: {exc}") from None
            now = time.time() if now is None else now
            self.record(Submission(round(now, 3), row.team, row.exercise, row.answer, "grader", verdict.points,
                                   verdict.reason, verdict.detail, verdict.key, ref))
            return verdict

    def record(self, s: Submission) -> None:
        self.submissions.append(s)
        fd = os.open(self.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(json.dumps(s.row()) + "\n")

    # --- the instructor's controls, through each team's console ---
    def control(self, team: str, service: str, action: str) -> str:
        """Pause, resume or force a hop of a team's service; what the console answered, in words."""
        from mtdlab.contract.console_client import call
        if team not in self.teams or action not in ("pause", "resume", "hop"):
            raise BoardError("expected a team of this class and pause, resume or hop")
        try:
            url = json.loads((self.folder / "consoles.json").read_text())[team]
            key = keys.from_file(keys.CONSOLE, self.folder / team / keys.CONSOLE.file)
        except (OSError, KeyError, ValueError) as exc:
            raise BoardError(f"team {team}'s console is not known here ({exc})") from None
        path, body = ("/hop", {"service": service}) if action == "hop" else \
            ("/config", {"service": service, "paused": action == "pause"})
        try:
            status, answer = call(url, key, "POST", path, body, lab_network=True)
        except OSError as exc:
            raise BoardError(f"team {team}'s console does not answer: {exc}") from None
        if status != 200:
            raise BoardError(f"team {team}'s console refused: {answer.get('error', status)}")
        return f"team {team}: {service} {'hop forced' if action == 'hop' else action + 'd'}"

    # --- what the pages show ---
    def scores(self) -> dict:
        """Per team: total, points per exercise and the time of each solve (the public scoreboard)."""
        with self.lock:
            subs = list(self.submissions)
        rows = []
        for team in self.teams:
            solved = [s for s in subs if s.team == team and s.reason == ACCEPTED]
            rows.append({"team": team, "total": sum(s.points for s in solved),
                         "exercises": {e.name: sum(s.points for s in solved if s.exercise == e.name) for e in self.exercises},
                         "solves": [{"exercise": s.exercise, "points": s.points, "wall": s.wall} for s in solved],
                         "last_solve": max((s.wall for s in solved), default=None)})
        rows.sort(key=lambda r: (-r["total"], r["last_solve"] or 0, r["team"]))
        return {"class": self.name, "exercises": [{"name": e.name, "title": e.title} for e in self.exercises],
                "teams": rows, "wall": time.time()}

    def team_submissions(self, team: str) -> list[dict]:
        with self.lock:
            return [s.row() for s in self.submissions if s.team == team]

    def export_json(self) -> str:
        with self.lock:
            subs = [s.row() for s in self.submissions]
        return json.dumps({"scores": self.scores(), "submissions": subs}, indent=2) + "\n"

    def export_csv(self) -> str:
        out = io.StringIO()
        fields = ["wall", "team", "exercise", "points", "reason", "detail", "key", "via", "answer", "ref"]
        writer = csv.DictWriter(out, fields)
        writer.writeheader()
        with self.lock:
            for s in self.submissions:
                writer.writerow({k: spreadsheet_safe(v) for k, v in s.row().items() if k in fields})
        return out.getvalue()
