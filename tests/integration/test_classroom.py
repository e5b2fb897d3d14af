"""A class on the real engine: one isolated lab per team, side by side; the reaper leaves them
alone; a team's lab network reaches no other team's; `class down` leaves nothing."""
import json
import stat
import textwrap
import urllib.request

import pytest

from mtdlab.contract.events import read_events
from mtdlab.contract.wait import Condition, wait_for
from mtdlab.host import classroom
from mtdlab.host.lab import LabError, reap_orphans
from tests.integration.conftest import lab_resources

pytestmark = pytest.mark.integration

SCENARIO = """
name: class-lab
seed: 1
target:
  services:
    - {name: web, kind: web, proxy_port: 8080, hop: {interval: {law: uniform, low_s: 2, high_s: 4}, pool: {ranges: ["10000-19999"]}}}
    - {name: redis, kind: redis, proxy_port: 6379, hop: {interval: {law: uniform, low_s: 2, high_s: 4}, pool: {ranges: ["20000-29999"]}}}
attacker: {ports: "10000-29999", timing: T4, pause_s: 2, version_scan: false, max_sweeps: 100}
"""


@pytest.fixture(scope="module")
def session(tmp_path_factory, client):
    base = tmp_path_factory.mktemp("class")
    (base / "scenario.yaml").write_text(textwrap.dedent(SCENARIO))
    path = base / "class.yaml"
    path.write_text("name: it\nscenario: scenario.yaml\nteams: [red, blue]\nseed: 9\nport_base: 41000\n")
    said = []
    folder = classroom.class_up(path, base / "session", said.append)
    yield path, folder, said
    classroom.class_down(path, say=lambda m: None)


def test_every_team_gets_its_own_lab_and_the_roster_says_where(session):
    path, folder, said = session
    roster = json.loads((folder / "roster.json").read_text())
    assert stat.S_IMODE((folder / "roster.json").stat().st_mode) == 0o600
    assert set(roster["teams"]) == {"red", "blue"}
    assert any("port plan:" in m for m in said) and any("team blue up (2/2" in m for m in said)
    for team, entry in roster["teams"].items():
        with urllib.request.urlopen(entry["web"], timeout=5) as r:
            assert r.status == 200 and r.headers["X-Mtdlab-Instance"].startswith(f"mtdclass-it-{team}-web-")
    assert roster["teams"]["red"]["web"] == "http://127.0.0.1:41000/"
    assert roster["teams"]["blue"]["web"] == "http://127.0.0.1:41010/"


def test_status_is_healthy_and_the_teams_schedules_differ(session):
    path, folder, _ = session
    rows = wait_for(Condition(lambda: (r := classroom.class_status(path)) and all(x["hops"] >= 2 for x in r) and r,
                              "two hops in every team's lab"), 60)
    assert all(r["healthy"] and r["running"] == r["containers"] for r in rows), rows
    first = {team: [e["new_port"] for e in read_events(folder / team / "truth.jsonl") if e["event"] == "hop.decided"][:4]
             for team in ("red", "blue")}
    assert first["red"] != first["blue"]   # each team's own seed


def test_the_reaper_leaves_a_class_alone_and_a_second_up_is_refused(session, client):
    path, folder, _ = session
    assert not [lab for lab in reap_orphans() if lab.startswith("mtdclass-it-")]
    assert lab_resources(client, "mtdclass-it-red") and lab_resources(client, "mtdclass-it-blue")
    with pytest.raises(LabError, match="already up"):
        classroom.class_up(path, folder.parent / "again", lambda m: None)


def test_one_teams_lab_network_does_not_reach_anothers(session, client):
    red = client.containers.list(filters={"label": ["com.docker.compose.project=mtdclass-it-red",
                                                    "com.docker.compose.service=attacker"]})[0]
    blue = client.containers.list(filters={"label": ["com.docker.compose.project=mtdclass-it-blue",
                                                     "com.docker.compose.service=target"]})[0]
    blue_ip = blue.attrs["NetworkSettings"]["Networks"]["mtdclass-it-blue_lab"]["IPAddress"]
    probe = red.exec_run(["python3", "-c", f"""
import socket
s = socket.socket(); s.settimeout(3)
try:
    s.connect(('{blue_ip}', 1)); print('reached')
except ConnectionRefusedError:
    print('reached (refused)')
except OSError as e:
    print('unreachable', e)
"""])
    assert b"unreachable" in probe.output, probe.output


def test_class_down_leaves_nothing(session, client, tmp_path):
    path, _, _ = session
    removed = classroom.class_down(path, say=lambda m: None)
    assert removed == ["mtdclass-it-blue", "mtdclass-it-red"]
    assert not lab_resources(client, "mtdclass-it-red") and not lab_resources(client, "mtdclass-it-blue")
    assert classroom.class_down(path, say=lambda m: None) == []     # again: nothing to do, no error


def test_a_failed_start_removes_every_team_lab(tmp_path, client):
    """Blue's web port is taken: red came up first, and is removed with everything else."""
    import socket
    (tmp_path / "scenario.yaml").write_text(textwrap.dedent(SCENARIO))
    path = tmp_path / "class.yaml"
    path.write_text("name: itfail\nscenario: scenario.yaml\nteams: [red, blue]\nseed: 9\nport_base: 42000\n")
    said = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 42010))
        taken.listen()
        with pytest.raises(LabError, match="42010"):
            classroom.class_up(path, tmp_path / "session", said.append)
    assert any("team red up" in m for m in said) and any("removing every team lab" in m for m in said)
    assert not lab_resources(client, "mtdclass-itfail-red") and not lab_resources(client, "mtdclass-itfail-blue")
