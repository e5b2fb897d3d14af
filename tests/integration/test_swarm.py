"""Labs on Docker Swarm (`--engine swarm`, docs/swarm.md), on a one-node swarm this module makes and
leaves again (or the machine's own, left as it is): a 2-team class hops with its legitimate users
never failing, each workstation sees its own target and nothing else, a lost lab is reported and
healed, `class down` leaves nothing on the swarm; the same scenario run locally and on Swarm gives
half-lives inside each other's 95% intervals."""
import asyncio
import json
import socket
import subprocess
import sys
import textwrap

import asyncssh
import docker
import pytest

from mtdlab.contract.events import read_events
from mtdlab.contract.wait import Condition, wait_for
from mtdlab.host import classroom
from mtdlab.host.lab import LabError
from mtdlab.host.run import run_scenario
from mtdlab.host.swarm import STACK_LABEL, one_node_swarm, swarm_state
from tests.integration.conftest import lab_resources

pytestmark = pytest.mark.integration

SCENARIO = """
name: swarm-class
seed: 4
target:
  services:
    - {name: web, kind: web, proxy_port: 8080, hop: {interval: {law: uniform, low_s: 3, high_s: 5}, pool: {ranges: ["10000-19999"]}}}
    - {name: ssh, kind: ssh, proxy_port: 2222, hop: {interval: {law: uniform, low_s: 3, high_s: 5}, pool: {ranges: ["20000-29999"]}}}
    - {name: redis, kind: redis, proxy_port: 6379, hop: {interval: {law: fixed, period_s: 600}, pool: {ranges: ["30000-39999"]}}}
"""
TEAMS = ("red", "blue")
PORT_BASE = 43000
RUN_S = 120


def test_without_a_swarm_the_engine_choice_is_refused_before_anything_starts(tmp_path):
    if swarm_state()["active"]:
        pytest.skip("this machine's engine is in a swarm of its own (CI's is not)")
    (tmp_path / "class.yaml").write_text(f"name: noswarm\nscenario: s.yaml\nteams: 1\nseed: 1\nport_base: {PORT_BASE}\n")
    (tmp_path / "s.yaml").write_text(textwrap.dedent(SCENARIO))
    with pytest.raises(LabError, match="not in a swarm; `docker swarm init`"):
        classroom.class_up(tmp_path / "class.yaml", tmp_path / "out", engine="swarm")
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def swarm():
    bridge = lambda: bool(docker.from_env().networks.list(names=["docker_gwbridge"]))  # noqa: E731
    had_bridge = bridge()
    with one_node_swarm() as made:
        yield made
    if made:   # the machine as it was: no swarm, and no bridge that `swarm init` made
        assert not swarm_state()["active"] and bridge() == had_bridge


@pytest.fixture(scope="module")
def session(swarm, tmp_path_factory):
    base = tmp_path_factory.mktemp("swarmclass")
    (base / "scenario.yaml").write_text(textwrap.dedent(SCENARIO))
    path = base / "class.yaml"
    path.write_text(f"name: sw\nscenario: scenario.yaml\nteams: [{', '.join(TEAMS)}]\nseed: 3\n"
                    f"port_base: {PORT_BASE}\nscripted_attacker: false\n")
    said = []
    folder = classroom.class_up(path, base / "session", said.append, engine="swarm")
    roster = json.loads((folder / "roster.json").read_text())
    yield path, folder, said, roster
    classroom.class_down(path, say=lambda m: None)


def task_container(client, team, service):
    return client.containers.list(filters={"label": [f"com.docker.compose.project=mtdclass-sw-{team}",
                                                     f"com.docker.compose.service={service}"]})[0]


def as_student(client, team, command: str) -> str:
    return task_container(client, team, "workstation").exec_run(
        ["sh", "-c", command], user="2000:2000", environment={"HOME": "/home/student"}).output.decode(errors="replace")


def hops(folder, team) -> int:
    return sum(e["event"] == "hop.done" and e["hop"] >= 1 for e in read_events(folder / team / "truth.jsonl"))


def legit(folder, team) -> list[dict]:
    path = folder / team / "users" / "legit.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines() if x.endswith("}")] if path.exists() else []


def test_each_team_lab_is_a_stack_on_one_node_and_hops_with_no_failed_legitimate_request(session):
    path, folder, said, _ = session
    client = docker.from_env()
    assert any("on the swarm engine" in m for m in said)
    for team in TEAMS:
        services = client.services.list(filters={"label": f"{STACK_LABEL}=mtdclass-sw-{team}"})
        names = {s.name.removeprefix(f"mtdclass-sw-{team}_") for s in services}
        assert names == {"target", "proxy", "fence", "controller", "dashboard", "users", "workstation", "door"}
        nodes = {t["NodeID"] for s in services for t in s.tasks(filters={"desired-state": "running"})}
        assert len(nodes) == 1, "every container of one lab on the same node"
        # The keys are Swarm secrets, not variables of any service's spec.
        spec = json.dumps([s.attrs["Spec"] for s in services])
        assert (folder / team / "console.key").read_text().strip() not in spec
    wait_for(Condition(lambda: all(hops(folder, t) >= 4 and len(legit(folder, t)) >= 100 for t in TEAMS),
                       "4 hops and 100 legitimate requests in every team"), 120, 1)
    for team in TEAMS:
        requests = legit(folder, team)
        assert requests and not [r for r in requests if not r["ok"]], f"{team}: failed legitimate requests"
    rows = classroom.class_status(path)
    assert [(r["team"], r["engine"], r["healthy"], r["lost"]) for r in rows] == [(t, "swarm", True, False) for t in TEAMS]
    assert all(r["node"] for r in rows)


def test_a_workstation_reaches_its_own_target_and_nothing_else(session):
    _, folder, _, roster = session
    client = docker.from_env()
    ports = sorted(e["port"] for e in read_events(folder / "red" / "truth.jsonl") if e["event"] == "hop.instance_started")
    assert "open" in as_student(client, "red", "nmap -sT -Pn -p 30000-39999 target")   # its redis, not hopping
    blue = task_container(client, "blue", "target").attrs["NetworkSettings"]["Networks"]
    proxy = task_container(client, "red", "proxy").attrs["NetworkSettings"]["Networks"]
    gateways = {n.attrs["IPAM"]["Config"][0]["Gateway"] for n in client.networks.list(names=["bridge", "docker_gwbridge"])
                if n.attrs["IPAM"]["Config"] and n.attrs["IPAM"]["Config"][0].get("Gateway")}
    assert ports and gateways
    with socket.socket() as host_listener:
        host_listener.bind(("0.0.0.0", 0))
        host_listener.listen()
        targets = [("blue's target, range", blue["mtdclass-sw-blue_range"]["IPAddress"], 22),
                   ("blue's target, lab", blue["mtdclass-sw-blue_lab"]["IPAddress"], 22),
                   ("red's own proxy", proxy["mtdclass-sw-red_lab"]["IPAddress"], 8080),
                   ("the scoreboard by name", "scoreboard", 8000), ("the controller by name", "controller", 7000),
                   *[("the host", gw, host_listener.getsockname()[1]) for gw in sorted(gateways)]]
        for name, ip, port in targets:
            out = as_student(client, "red", f"ncat -z -w 3 {ip} {port} && echo REACHED || echo unreachable")
            assert "unreachable" in out and "REACHED" not in out, (name, ip, out)
    # Its own secret only (the password hash it checks logins against), no Docker socket.
    assert as_student(client, "red", "ls /run/secrets; ls /var/run/docker.sock 2>&1 | grep -c 'No such'").split() == \
        ["MTDLAB_WORKSTATION_PASSWORD_HASH", "1"]


def test_ssh_to_a_workstation_through_the_relay_with_the_roster_password(session):
    _, _, _, roster = session
    entry = roster["teams"]["blue"]["workstation"]

    async def login(password):
        async with asyncssh.connect("127.0.0.1", int(entry["ssh"].split()[2]), username="student", password=password,
                                    known_hosts=None, login_timeout=20) as conn:
            return (await conn.run("id -un; hostname", check=True)).stdout

    assert asyncio.run(login(entry["password"])).split() == ["student", "workstation"]
    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(login(entry["password"] + "x"))


def test_a_lost_lab_is_reported_and_healed_with_its_folder_and_password(session):
    path, folder, _, roster = session
    client = docker.from_env()
    task_container(client, "red", "target").kill()
    # None until Swarm has seen the task end (a bare next() would raise StopIteration out of the wait).
    lost = wait_for(Condition(lambda: next((r for r in classroom.class_status(path) if r["team"] == "red" and r["lost"]),
                                           None), "red reported lost"), 30, 0.5)
    assert "target" in lost["reason"] and not lost["healthy"]
    assert not next(r for r in classroom.class_status(path) if r["team"] == "blue")["lost"]
    before = hops(folder, "red")
    assert classroom.class_heal(path, folder, say=lambda m: None) == ["red"]
    wait_for(Condition(lambda: hops(folder, "red") >= before + 2, "red hops again in the same truth log"), 60, 1)
    assert next(r for r in classroom.class_status(path) if r["team"] == "red")["healthy"]
    consoles = json.loads((folder / "consoles.json").read_text())
    assert set(consoles) == set(TEAMS)
    test_ssh_to_a_workstation_through_the_relay_with_the_roster_password((path, folder, None, {
        "teams": {"blue": roster["teams"]["red"]}}))


def test_class_down_leaves_nothing_on_the_swarm(session):
    path, _, _, _ = session
    client = docker.from_env()
    removed = classroom.class_down(path, say=lambda m: None)
    assert removed == ["mtdclass-sw-_board", "mtdclass-sw-blue", "mtdclass-sw-red"]
    for name in removed:
        assert not lab_resources(client, name)
        assert not client.services.list(filters={"label": f"{STACK_LABEL}={name}"})
        assert not client.networks.list(filters={"label": f"{STACK_LABEL}={name}"})
        assert not client.secrets.list(filters={"label": f"mtdlab.lab={name}"})
    assert classroom.class_down(path, say=lambda m: None) == []


def test_the_same_scenario_locally_and_on_swarm_gives_half_lives_inside_each_others_intervals(swarm, tmp_path):
    scenario = "scenarios/fast-exponential.yaml"
    runs = {engine: run_scenario(scenario, RUN_S, tmp_path / engine, say=lambda m: None, engine=engine)
            for engine in ("local", "swarm")}
    decay = {engine: json.loads((out / "summary.json").read_text())["decay"] for engine, out in runs.items()}
    local, on_swarm = decay["local"], decay["swarm"]
    assert on_swarm["half_life_ci95"][0] <= local["half_life_s"] <= on_swarm["half_life_ci95"][1], decay
    assert local["half_life_ci95"][0] <= on_swarm["half_life_s"] <= local["half_life_ci95"][1], decay
    assert json.loads((runs["swarm"] / "run.json").read_text())["engine"] == "swarm"
    summary = json.loads((runs["swarm"] / "summary.json").read_text())
    assert summary["legit"]["requests"] > 0 and summary["legit"]["failures"] == 0 and summary["hops"] >= 20
    assert not docker.from_env().services.list(filters={"label": STACK_LABEL})
    assert not subprocess.run(["docker", "secret", "ls", "-q"], capture_output=True, text=True).stdout.strip()


SWEEP = """
name: swarm-sweep
base: base.yaml
duration_s: 45
repetitions: 1
vary:
  target.services[*].hop.interval.mean_s: [2, 4]
"""
SWEEP_BASE = """
name: swarm-sweep-base
seed: 8
target:
  services:
    - {name: web, kind: web, hop: {interval: {law: exponential, mean_s: 3}, pool: {ranges: ["9001-9099"]}}}
attacker: {ports: "9000-9100", timing: T4, pause_s: 0.5, version_scan: false, act_delay_s: 1}
legit: {rate_per_s: 5}
"""


def test_a_sweep_on_swarm_runs_its_runs_side_by_side_one_per_reserved_core(swarm, tmp_path):
    (tmp_path / "base.yaml").write_text(SWEEP_BASE)
    (tmp_path / "sweep.yaml").write_text(SWEEP)
    done = subprocess.run([sys.executable, "-m", "mtdlab.host.cli", "sweep", str(tmp_path / "sweep.yaml"), "--out",
                           str(tmp_path / "out"), "--engine", "swarm", "--lab-cpus", "1"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    cores = sum(n.attrs["Description"]["Resources"]["NanoCPUs"] for n in docker.from_env().nodes.list()) // 10**9
    assert cores >= 2 and f"on Swarm, {cores} at a time (1 cores each)" in done.stderr, done.stderr[:2000]
    windows = []
    for run in ("p00-r0", "p01-r0"):
        folder = tmp_path / "out" / run
        assert json.loads((folder / "run.json").read_text())["engine"] == "swarm"
        assert json.loads((folder / "summary.json").read_text())["hops"] >= 5
        events = list(read_events(folder / "truth.jsonl"))
        windows.append((events[0]["wall"], events[-1]["wall"]))
    # Side by side: each run's truth log spans part of the other's.
    assert windows[0][0] < windows[1][1] and windows[1][0] < windows[0][1], windows
    assert json.loads((tmp_path / "out" / "sweep.json").read_text())["finished"] == 2
    assert not docker.from_env().services.list(filters={"label": STACK_LABEL})
