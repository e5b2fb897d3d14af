"""The exercises that need a particular lab, end to end on the real engine, in one class whose
teams run different shipped scenarios: red the classroom lab (scenarios/classroom.yaml: lying
banners, a keyed portal), blue the single-port gateway (scenarios/sapp.yaml). The instructors'
solutions (exercises/*/solution.py) run on the teams' workstations, as a team's code would."""
import json
import re
import urllib.request
from pathlib import Path

import pytest

from mtdlab.contract.events import read_events
from mtdlab.contract.wait import Condition, wait_for
from mtdlab.host import classroom

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
KEYED_RUN_S = 330            # the keyed solution's default: one 5-minute window and a margin


@pytest.fixture(scope="module")
def session(tmp_path_factory, client):
    base = tmp_path_factory.mktemp("mixed")
    path = base / "class.yaml"
    path.write_text(f"name: itx\nscenario: {ROOT}/scenarios/classroom.yaml\n"
                    f"teams: [red, {{name: blue, scenario: {ROOT}/scenarios/sapp.yaml}}]\n"
                    "seed: 4\nport_base: 44000\nscripted_attacker: false\n")
    said = []
    folder = classroom.class_up(path, base / "session", said.append)
    roster = json.loads((folder / "roster.json").read_text())
    # Red's keyed client runs in the background from the start: the last test collects its flags.
    put(client, "red", "/home/student/keyed.py", (ROOT / "exercises/keyed_client/solution.py").read_text())
    workstation(client, "red").exec_run(
        ["sh", "-c", f"python3 keyed.py {roster['teams']['red']['keyed_key']} > flags.txt 2> errors.txt; touch done"],
        user="2000:2000", workdir="/home/student", detach=True)
    yield path, folder, said, roster
    classroom.class_down(path, say=lambda m: None)


def workstation(client, team):
    return client.containers.list(filters={"label": [f"com.docker.compose.project=mtdclass-itx-{team}",
                                                     "com.docker.compose.service=workstation"]})[0]


def as_student(client, team, *argv: str) -> str:
    result = workstation(client, team).exec_run(list(argv), user="2000:2000", workdir="/home/student",
                                                environment={"HOME": "/home/student"})
    return result.output.decode(errors="replace")


def put(client, team, path: str, text: str) -> None:
    """A file in the student's home (a tmpfs: docker cp cannot write there), as the student."""
    as_student(client, team, "python3", "-c", "import sys; open(sys.argv[1], 'w').write(sys.argv[2])", path, text)


def submit(roster, team, exercise, answer) -> dict:
    body = json.dumps({"token": roster["teams"][team]["token"], "exercise": exercise, "answer": answer}).encode()
    request = urllib.request.Request(roster["scoreboard"] + "api/submit", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def serving(folder, team, service) -> dict:
    """The team's newest instance of service (its hop.instance_started event)."""
    return [e for e in read_events(folder / team / "truth.jsonl")
            if e["event"] == "hop.instance_started" and e["service"] == service][-1]


def test_each_team_runs_the_scenario_its_entry_names(session):
    _, folder, said, roster = session
    meta = json.loads((folder / "class.json").read_text())
    assert meta["scenarios"] == {"red": "classroom", "blue": "sapp"}
    assert set(meta["exercises"]) >= {"keyed-client", "see-through-banners", "gateway"}
    assert "keyed_key" in roster["teams"]["red"] and "sapp_key" not in roster["teams"]["red"]
    assert "sapp_key" in roster["teams"]["blue"] and "keyed_key" not in roster["teams"]["blue"]
    services = {t: {e["service"] for e in read_events(folder / t / "truth.jsonl") if e["event"] == "hop.done"}
                for t in ("red", "blue")}
    assert services == {"red": {"web", "ssh", "redis", "ftp", "portal"}, "blue": {"web", "ssh", "redis", "ftp"}}
    assert any("scenario classroom, sapp" in m for m in said), said


def test_the_workstation_hides_the_instructor_notes(session, client):
    assert as_student(client, "red", "ls", "-A", "/opt/mtdlab/exercises").strip() == ""
    assert "No such file" in as_student(client, "red", "cat", "/opt/mtdlab/exercises/gateway/instructor.md")


def test_gateway_the_solution_reaches_every_service_behind_the_one_port(session, client):
    _, _, _, roster = session
    team = roster["teams"]["blue"]
    put(client, "blue", "/home/student/gateway.py", (ROOT / "exercises/gateway/solution.py").read_text())
    lines = as_student(client, "blue", "python3", "gateway.py", team["sapp_key"], team["redis_password"]).split("\n")
    found = dict(line.split() for line in lines if re.fullmatch(r"[a-z]+ mtd\{[0-9a-f]{24}\}", line))
    assert set(found) == {"web", "ssh", "redis", "ftp"}, lines
    wrong = submit(roster, "blue", "gateway", f"ftp {found['web']}")      # a web flag named ftp
    assert wrong["reason"] == "wrong" and wrong["points"] == 0, wrong
    for kind, flag in found.items():
        verdict = submit(roster, "blue", "gateway", f"{kind} {flag}")
        assert verdict["reason"] == "accepted" and verdict["points"] == 20, (kind, verdict)
    assert submit(roster, "red", "gateway", f"web {found['web']}")["reason"] == "not-available"


def test_banners_lie_on_the_wire_and_only_the_true_product_scores(session, client):
    _, folder, _, roster = session
    web, ftp = serving(folder, "red", "web"), serving(folder, "red", "ftp")
    headers = as_student(client, "red", "curl", "-sI", "-m", "5", f"http://target:{web['port']}/")
    claimed = re.search(r"^Server: (.*?)\r?$", headers, re.M).group(1)
    assert claimed == web["banner"] and "gunicorn" not in claimed.lower(), headers
    greeting = as_student(client, "red", "curl", "-sv", "-m", "5", f"ftp://target:{ftp['port']}/flag.txt")
    assert ftp["banner"] in greeting and "vsftpd" not in ftp["banner"].lower()
    assert "331 Please specify the password." in greeting        # vsftpd's own wording gives it away
    first_word = claimed.split("/")[0].split()[0].lower()
    assert submit(roster, "red", "see-through-banners", f"web {first_word}")["reason"] == "wrong"
    assert submit(roster, "red", "see-through-banners", "web gunicorn")["points"] == 15
    assert submit(roster, "red", "see-through-banners", "ftp vsftpd")["points"] == 15
    assert submit(roster, "red", "see-through-banners", "ssh openssh")["reason"] == "not-available"
    assert submit(roster, "blue", "see-through-banners", "web gunicorn")["reason"] == "not-available"


def test_read_the_schedule_right_and_wrong(session):
    _, _, _, roster = session
    assert submit(roster, "red", "read-the-schedule", "redis fixed 45")["points"] == 20
    assert submit(roster, "red", "read-the-schedule", "web uniform 100")["reason"] == "wrong"   # true mean 60
    assert submit(roster, "red", "read-the-schedule", "ssh uniform 60")["reason"] == "wrong"    # exponential
    assert submit(roster, "red", "read-the-schedule", "ssh exponential 55")["points"] == 20
    assert submit(roster, "blue", "read-the-schedule", "redis fixed 5")["points"] == 20


def test_keyed_client_the_solution_collects_a_windows_flags(session, client):
    """The solution started with the class has run for KEYED_RUN_S: its flags are accepted; the
    first few of them (a client that gave up) are not enough."""
    _, _, _, roster = session
    wait_for(Condition(lambda: as_student(client, "red", "ls", "done").strip() == "done",
                       "the keyed client's 330 s"), KEYED_RUN_S + 60, 5)
    flags = as_student(client, "red", "cat", "flags.txt").split()
    assert len(flags) >= 30, (flags, as_student(client, "red", "cat", "errors.txt"))
    few = submit(roster, "red", "keyed-client", " ".join(flags[:10]))
    assert few["reason"] == "wrong" and "cover at best" in few["detail"], few
    verdict = submit(roster, "red", "keyed-client", " ".join(flags))
    assert verdict["reason"] == "accepted" and verdict["points"] == 50, verdict
    assert submit(roster, "blue", "keyed-client", flags[0])["reason"] == "not-available"
