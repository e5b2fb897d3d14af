"""The classroom's grading (mtdlab.classroom, exercises/): every exercise's checker on a right and
a wrong answer, and the board's rules for flags (grace, other teams', replays), tries, tokens
and exports. Truth logs are written here as a controller writes them; no engine."""
import json

import pytest

from exercises import EXERCISES
from mtdlab.classroom.board import SUBMISSIONS_PER_MINUTE, BoardError, ClassBoard, token_hash
from mtdlab.contract import flags, keys

T0 = 1_800_000_000.0
SECRET = bytes(range(32))
SERVICES = {
    "web": {"kind": "web", "law": {"law": "uniform", "low_s": 30, "high_s": 90}, "mean_interval_s": 60.0,
            "banner": "random-random"},
    "ssh": {"kind": "ssh", "law": {"law": "exponential", "mean_s": 60}, "mean_interval_s": 60.0, "banner": "static"},
    "portal": {"kind": "web", "law": {"law": "keyed", "period_s": 10, "grace_s": 2, "lead_s": 1},
               "mean_interval_s": 10.0, "banner": "static"},
}
GRACE = 30.0


def lab_events(team: str, sapp: bool = False) -> list[dict]:
    """Web: hop 0 at T0, replaced at T0+100 (its instance gone at T0+101); ssh: hop 0 all along;
    portal: one instance per 10 s slot for 400 s."""
    key = flags.team_key(SECRET, team)
    ev = [{"event": "controller.started", "wall": T0 - 5, "services": SERVICES}]
    if sapp:
        ev.append({"event": "sapp.started", "wall": T0 - 1, "port": 28888})

    def start(service, hop, wall):
        ev.append({"event": "hop.instance_started", "wall": wall, "service": service, "hop": hop, "port": 10000 + hop,
                   "container": f"{team}-{service}-{hop}", "flag_id": flags.flag_id(flags.flag(key, service, hop))})

    start("web", 0, T0)
    start("ssh", 0, T0)
    start("web", 1, T0 + 100)
    ev.append({"event": "hop.old_stopped", "wall": T0 + 101, "service": "web", "hop": 1, "port": 10000,
               "container": f"{team}-web-0"})
    for slot in range(40):
        start("portal", slot, T0 + 10 * slot)
        if slot:
            ev.append({"event": "hop.old_stopped", "wall": T0 + 10 * slot + 2, "service": "portal", "hop": slot,
                       "port": 10000 + slot - 1, "container": f"{team}-portal-{slot - 1}"})
    return ev


def flag(team, service, hop):
    return flags.flag(flags.team_key(SECRET, team), service, hop)


@pytest.fixture
def board(tmp_path):
    return make_board(tmp_path, list(EXERCISES))


def make_board(tmp_path, exercises, sapp=False):
    teams = ["red", "blue"]
    (tmp_path / "class.json").write_text(json.dumps({"class": "c", "teams": teams, "exercises": exercises,
                                                     "grace_s": GRACE}))
    keys.write(keys.CLASS, tmp_path, SECRET.hex())
    (tmp_path / "board.json").write_text(json.dumps({"teams": {t: token_hash(f"tok-{t}") for t in teams},
                                                     "instructor": token_hash("boss")}))
    for t in teams:
        (tmp_path / t).mkdir()
        (tmp_path / t / "truth.jsonl").write_text("".join(json.dumps({**e, "mono": e["wall"] - T0 + 1000}) + "\n"
                                                          for e in lab_events(t, sapp)))
    return ClassBoard(tmp_path)


def submit(board, team, exercise, answer, at):
    return board.submit(f"tok-{team}", exercise, answer, now=T0 + at)[1]


# --- recon race: the flag rules every flag-taking exercise shares ---

def test_a_live_flag_scores_once(board):
    first = submit(board, "red", "recon-race", flag("red", "web", 1), at=120)
    assert first.accepted and first.points == 10
    again = submit(board, "red", "recon-race", flag("red", "web", 1), at=121)
    assert again.reason == "replayed" and again.points == 0


def test_a_flag_counts_for_the_grace_period_after_its_instance_is_gone_and_not_after(board):
    # web hop 0 went at T0+101: accepted until T0+131.
    assert submit(board, "red", "recon-race", flag("red", "web", 0), at=101 + GRACE - 1).accepted
    late = submit(board, "blue", "recon-race", flag("blue", "web", 0), at=101 + GRACE + 1)
    assert late.reason == "expired" and late.points == 0


def test_another_teams_flag_a_made_up_flag_and_not_a_flag_score_nothing(board):
    assert submit(board, "red", "recon-race", flag("blue", "ssh", 0), at=10).reason == "foreign-team"
    assert submit(board, "red", "recon-race", "mtd{" + "0" * 24 + "}", at=10).reason == "wrong"
    assert submit(board, "red", "recon-race", flag("red", "ssh", 7), at=10).reason == "wrong"   # never served
    assert submit(board, "red", "recon-race", "flag please", at=10).reason == "malformed"
    assert board.scores()["teams"][0]["total"] == 0


def test_every_submission_is_logged_with_its_reason_and_survives_a_restart(board, tmp_path):
    submit(board, "red", "recon-race", flag("red", "ssh", 0), at=10)
    submit(board, "red", "recon-race", flag("blue", "ssh", 0), at=11)
    again = ClassBoard(tmp_path)
    assert [s.reason for s in again.submissions] == ["accepted", "foreign-team"]
    assert submit(again, "red", "recon-race", flag("red", "ssh", 0), at=12).reason == "replayed"


# --- read the schedule ---

def test_read_the_schedule_right_law_and_mean_within_tolerance(board):
    assert submit(board, "red", "read-the-schedule", "web uniform 55", at=300).accepted
    assert submit(board, "blue", "read-the-schedule", "web uniform 90", at=300).reason == "wrong"     # 50% off
    assert submit(board, "blue", "read-the-schedule", "web exponential 60", at=300).reason == "wrong"  # wrong law
    assert submit(board, "blue", "read-the-schedule", "web sometimes", at=300).reason == "malformed"


def test_read_the_schedule_allows_three_wrong_answers_per_service(board):
    for _ in range(3):
        assert submit(board, "red", "read-the-schedule", "ssh fixed 60", at=300).reason == "wrong"
    assert submit(board, "red", "read-the-schedule", "ssh exponential 60", at=300).reason == "no-tries-left"
    assert submit(board, "red", "read-the-schedule", "web uniform 60", at=300).accepted   # another service


# --- keyed client ---

def test_keyed_client_needs_95_percent_of_a_windows_slots(board):
    got = [flag("red", "portal", s) for s in range(30)]          # slots 0..29: a whole 300 s window
    assert submit(board, "red", "keyed-client", " ".join(got), at=400).accepted
    holes = [flag("blue", "portal", s) for s in range(30) if s % 10 != 3]   # 27 of 30 = 90%
    verdict = submit(board, "blue", "keyed-client", "\n".join(holes), at=400)
    assert verdict.reason == "wrong" and "90%" in verdict.detail


def test_keyed_client_refuses_another_teams_flags(board):
    theirs = [flag("blue", "portal", s) for s in range(30)]
    assert submit(board, "red", "keyed-client", " ".join(theirs), at=400).reason == "foreign-team"


# --- see through the banners ---

def test_see_through_banners_names_the_true_product_of_a_lying_service(board):
    assert submit(board, "red", "see-through-banners", "web Gunicorn", at=50).accepted
    assert submit(board, "blue", "see-through-banners", "web nginx", at=50).reason == "wrong"
    assert submit(board, "blue", "see-through-banners", "ssh openssh", at=50).reason == "not-available"  # true banner


# --- the single-port gateway ---

def test_gateway_takes_a_kind_and_a_flag_reached_through_it(tmp_path):
    board = make_board(tmp_path, ["gateway"], sapp=True)
    assert submit(board, "red", "gateway", f"ssh {flag('red', 'ssh', 0)}", at=50).accepted
    assert submit(board, "blue", "gateway", f"redis {flag('blue', 'ssh', 0)}", at=50).reason == "wrong"


def test_gateway_is_not_available_without_a_gateway(tmp_path):
    board = make_board(tmp_path, ["gateway"], sapp=False)
    assert submit(board, "red", "gateway", f"ssh {flag('red', 'ssh', 0)}", at=50).reason == "not-available"


# --- tokens, limits, exports ---

def test_tokens_and_exercises_are_checked_before_judging(board):
    with pytest.raises(BoardError, match="not a team token"):
        board.submit("guess", "recon-race", flag("red", "ssh", 0), now=T0)
    with pytest.raises(BoardError, match="no exercise"):
        board.submit("tok-red", "ctf", "x", now=T0)
    with pytest.raises(BoardError, match="1 to"):
        board.submit("tok-red", "recon-race", "x" * 9000, now=T0)
    assert board.is_instructor("boss") and not board.is_instructor("tok-red")
    assert board.submissions == []


def test_a_team_cannot_flood_the_board(board):
    for i in range(SUBMISSIONS_PER_MINUTE):
        board.submit("tok-red", "recon-race", "nope", now=T0 + i)
    with pytest.raises(BoardError, match="a minute"):
        board.submit("tok-red", "recon-race", "nope", now=T0 + 40)
    board.submit("tok-red", "recon-race", "nope", now=T0 + 90)      # a minute later again


def test_scores_rank_teams_and_exports_carry_every_submission(board):
    submit(board, "blue", "recon-race", flag("blue", "ssh", 0), at=10)
    submit(board, "red", "recon-race", "=HYPERLINK(\"http://x\")", at=11)
    scores = board.scores()
    assert [t["team"] for t in scores["teams"]] == ["blue", "red"] and scores["teams"][0]["total"] == 10
    assert scores["teams"][0]["solves"][0]["exercise"] == "recon-race"
    csv_text = board.export_csv()
    assert csv_text.count("\n") == 3 and "'=HYPERLINK" in csv_text     # a formula stays text
    assert len(json.loads(board.export_json())["submissions"]) == 2


# --- defend: judged later, by the grader's trial run ---

GOOD_TRIAL = {"act_success_rate": 0.1, "hops": 14, "duration_s": 120.0, "legit_requests": 1200, "legit_failures": 0}


def test_defend_queues_a_valid_policy_and_refuses_a_malformed_one(board):
    queued = submit(board, "red", "defend", "{law: uniform, low_s: 6, high_s: 8}", at=10)
    assert queued.reason == "pending" and queued.points == 0
    assert [j["team"] for j in board.pending()] == ["red"]
    assert submit(board, "red", "defend", "{law: fixed, period_s: 30}", at=11).reason == "busy"   # one at a time
    assert submit(board, "blue", "defend", "{law: sometimes}", at=12).reason == "malformed"
    assert submit(board, "blue", "defend", "{law: keyed, slot_s: 10, grace_s: 2, lead_s: 1}", at=13).reason == "malformed"
    trial = EXERCISES["defend"].trial("{law: uniform, low_s: 6, high_s: 8}", seed=5)
    assert "low_s: 6" in trial and "act_delay_s: 10" in trial


def test_defend_scores_the_trials_figures(board):
    submit(board, "red", "defend", "{law: uniform, low_s: 6, high_s: 8}", at=10)
    ref = board.pending()[0]["ref"]
    assert board.resolve(ref, GOOD_TRIAL).accepted
    assert board.pending() == [] and board.scores()["teams"][0]["exercises"]["defend"] == 40
    assert submit(board, "red", "defend", "{law: fixed, period_s: 30}", at=300).reason == "replayed"
    with pytest.raises(BoardError, match="waiting"):
        board.resolve(ref, GOOD_TRIAL)                # a result is taken once


@pytest.mark.parametrize("change, why", [
    ({"act_success_rate": 0.9}, "act-after-delay success 90%"),
    ({"legit_failures": 3}, "3 of 1200 legitimate requests failed"),
    ({"hops": 40}, "20.0 hops a minute"),
])
def test_defend_fails_a_policy_that_misses_any_target(board, change, why):
    submit(board, "blue", "defend", "{law: fixed, period_s: 100}", at=10)
    verdict = board.resolve(board.pending()[0]["ref"], {**GOOD_TRIAL, **change})
    assert verdict.reason == "wrong" and verdict.points == 0 and why in verdict.detail


def test_defend_a_trial_that_could_not_run_costs_no_try(board):
    submit(board, "blue", "defend", "{law: fixed, period_s: 100}", at=10)
    assert board.resolve(board.pending()[0]["ref"], error="LabError: port taken").reason == "trial-failed"
    assert submit(board, "blue", "defend", "{law: fixed, period_s: 100}", at=20).reason == "pending"
