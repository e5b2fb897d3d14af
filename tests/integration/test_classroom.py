"""A class on the real engine: one isolated lab per team with its workstation and moving flags,
the scoreboard judging what the workstations read; `class down` leaves nothing."""
import asyncio
import ipaddress
import json
import socket
import stat
import textwrap
import time
import urllib.parse
import urllib.request

import asyncssh
import pytest

from bench.pagewatch import chromium
from mtdlab.contract.events import read_events
from mtdlab.contract.wait import Condition, wait_for
from mtdlab.host import classroom
from mtdlab.host.lab import LabError, reap_orphans
from tests.integration.conftest import lab_resources

pytestmark = pytest.mark.integration

# web hops every 4-6 s (the grace test watches it); the others slowly, so a read flag stays current.
SCENARIO = """
name: class-lab
seed: 1
target:
  services:
    - {name: web, kind: web, proxy_port: 8080, hop: {interval: {law: uniform, low_s: 4, high_s: 6}, pool: {ranges: ["10000-19999"]}}}
    - {name: ssh, kind: ssh, proxy_port: 2222, hop: {interval: {law: fixed, period_s: 600}, pool: {ranges: ["20000-29999"]}}}
    - {name: redis, kind: redis, proxy_port: 6379, hop: {interval: {law: fixed, period_s: 600}, pool: {ranges: ["30000-39999"]}}}
    - {name: ftp, kind: ftp, proxy_port: 2121, hop: {interval: {law: fixed, period_s: 600}, pool: {ranges: ["40000-44999"]}}}
"""
TEAMS = ("red", "blue", "green")
GRACE_S = 6
PORT_BASE = 41000


@pytest.fixture(scope="module")
def session(tmp_path_factory, client):
    base = tmp_path_factory.mktemp("class")
    (base / "scenario.yaml").write_text(textwrap.dedent(SCENARIO))
    path = base / "class.yaml"
    path.write_text(f"name: it\nscenario: scenario.yaml\nteams: [{', '.join(TEAMS)}]\nseed: 9\nport_base: {PORT_BASE}\n"
                    f"flag_grace_s: {GRACE_S}\nscripted_attacker: false\n")
    said = []
    folder = classroom.class_up(path, base / "session", said.append)
    roster = json.loads((folder / "roster.json").read_text())
    yield path, folder, said, roster
    classroom.class_down(path, say=lambda m: None)


def workstation(client, team):
    return client.containers.list(filters={"label": [f"com.docker.compose.project=mtdclass-it-{team}",
                                                     "com.docker.compose.service=workstation"]})[0]


def as_student(client, team, command: str) -> str:
    result = workstation(client, team).exec_run(["sh", "-c", command], user="2000:2000",
                                                environment={"HOME": "/home/student"})
    return result.output.decode(errors="replace")


def current(folder, team, service) -> dict:
    """The team's instance of service serving now, from its truth log (the test's ground truth)."""
    started, ended = {}, set()
    for e in read_events(folder / team / "truth.jsonl"):
        if e["event"] == "hop.instance_started" and e["service"] == service:
            started[e["container"]] = e
        elif e["event"] in ("hop.old_stopped", "hop.start_failed", "hop.new_removed") and "container" in e:
            ended.add(e["container"])
    live = [e for c, e in started.items() if c not in ended]
    return max(live, key=lambda e: e["hop"])


def submit(roster, team, exercise, answer, token=None) -> dict:
    body = json.dumps({"token": token or roster["teams"][team]["token"], "exercise": exercise, "answer": answer}).encode()
    request = urllib.request.Request(roster["scoreboard"] + "api/submit", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return {"status": exc.code, **json.loads(exc.read())}


def read_web_flag(client, team, port) -> str:
    return as_student(client, team, f"curl -s -m 5 http://target:{port}/ | grep -o 'mtd{{[0-9a-f]*}}'").strip()


def test_every_team_gets_a_lab_a_workstation_and_the_roster_says_where(session):
    path, folder, said, roster = session
    assert stat.S_IMODE((folder / "roster.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "class.key").stat().st_mode) == 0o600
    assert set(roster["teams"]) == set(TEAMS)
    assert any("port plan:" in m for m in said) and any("team green up (3/3" in m for m in said)
    assert roster["teams"]["blue"]["workstation"]["ssh"] == f"ssh -p {PORT_BASE + 15} student@127.0.0.1"
    assert roster["scoreboard"] == f"http://127.0.0.1:{PORT_BASE - 1}/"
    for team in TEAMS:
        entry = roster["teams"][team]
        with urllib.request.urlopen(entry["proxy_web"], timeout=5) as r:      # the instructor's, on loopback
            assert r.status == 200 and r.headers["X-Mtdlab-Instance"].startswith(f"mtdclass-it-{team}-web-")


def test_status_is_healthy_and_the_teams_schedules_differ(session):
    path, folder, _, _ = session
    rows = wait_for(Condition(lambda: (r := classroom.class_status(path)) and all(x["hops"] >= 2 for x in r) and r,
                              "two hops in every team's lab"), 60)
    assert all(r["healthy"] and r["running"] == r["containers"] for r in rows), rows
    first = {team: [e["new_port"] for e in read_events(folder / team / "truth.jsonl") if e["event"] == "hop.decided"][:4]
             for team in TEAMS}
    assert len({tuple(v) for v in first.values()}) == 3    # each team's own seed


def test_the_reaper_leaves_a_class_alone_and_a_second_up_is_refused(session, client):
    path, folder, _, _ = session
    assert not [lab for lab in reap_orphans() if lab.startswith("mtdclass-it-")]
    assert all(lab_resources(client, f"mtdclass-it-{t}") for t in TEAMS)
    with pytest.raises(LabError, match="already up"):
        classroom.class_up(path, folder.parent / "again", lambda m: None)


def test_a_workstation_reaches_its_own_lab_and_nothing_else(session, client):
    path, folder, _, roster = session
    ssh_port = current(folder, "red", "ssh")["port"]
    found = as_student(client, "red", f"nmap -sT -Pn -p {ssh_port} target")
    assert f"{ssh_port}/tcp open" in found, found
    blue_target = client.containers.list(filters={"label": ["com.docker.compose.project=mtdclass-it-blue",
                                                            "com.docker.compose.service=target"]})[0]
    blue_ip = blue_target.attrs["NetworkSettings"]["Networks"]["mtdclass-it-blue_range"]["IPAddress"]
    blue_ssh = current(folder, "blue", "ssh")["port"]
    proxy = client.containers.list(filters={"label": ["com.docker.compose.project=mtdclass-it-red",
                                                      "com.docker.compose.service=proxy"]})[0]
    proxy_ip = proxy.attrs["NetworkSettings"]["Networks"]["mtdclass-it-red_lab"]["IPAddress"]
    # The host's address on the team's edge network (its bridge's gateway: the subnet's first address).
    edge = client.networks.get("mtdclass-it-red_edge").attrs["IPAM"]["Config"][0]["Subnet"]
    host_ip = str(next(ipaddress.ip_network(edge).hosts()))
    # Another team's service, the own proxy (it serves every current flag), a host listener on every
    # address, the scoreboard and the controller: each is listening, none may be reached.
    with socket.socket() as host_listener:
        host_listener.bind(("0.0.0.0", 0))
        host_listener.listen()
        for name, ip, port in (("blue's ssh", blue_ip, blue_ssh), ("the proxy", proxy_ip, 8080),
                               ("the host", host_ip, host_listener.getsockname()[1]),
                               ("the scoreboard by name", "scoreboard", 8000), ("the controller by name", "controller", 7000)):
            out = as_student(client, "red", f"ncat -z -w 3 {ip} {port} && echo REACHED || echo unreachable")
            assert "unreachable" in out and "REACHED" not in out, (name, out)


def test_ssh_login_with_the_roster_password_works_and_a_wrong_one_fails(session):
    _, _, _, roster = session
    entry = roster["teams"]["green"]["workstation"]
    port = int(entry["ssh"].split()[2])

    async def login(password):
        async with asyncssh.connect("127.0.0.1", port, username="student", password=password, known_hosts=None,
                                    login_timeout=20) as conn:
            return (await conn.run("id -un; hostname", check=True)).stdout

    assert asyncio.run(login(entry["password"])).split() == ["student", "workstation"]
    with pytest.raises(asyncssh.PermissionDenied):
        asyncio.run(login(entry["password"] + "x"))


def test_a_flag_read_through_each_protocol_is_accepted(session, client):
    _, folder, _, roster = session
    team = "blue"
    password = roster["teams"][team]["redis_password"]
    reads = {
        "web": f"curl -s -m 5 http://target:{current(folder, team, 'web')['port']}/ | grep -o 'mtd{{[0-9a-f]*}}'",
        "redis": f"REDISCLI_AUTH={password} redis-cli -h target -p {current(folder, team, 'redis')['port']} GET flag",
        "ftp": f"curl -s -m 5 ftp://target:{current(folder, team, 'ftp')['port']}/flag.txt",
        "ssh": f"ssh -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o PreferredAuthentications=none "
               f"-o BatchMode=yes -p {current(folder, team, 'ssh')['port']} x@target 2>&1 | grep -o 'mtd{{[0-9a-f]*}}'",
    }
    for service, command in reads.items():
        flag = as_student(client, team, command).strip().splitlines()[-1]
        verdict = submit(roster, team, "recon-race", flag)
        # The web instance may have hopped meanwhile: its flag still counts (grace).
        assert verdict["reason"] == "accepted" and verdict["points"] == 10, (service, flag, verdict)
        assert service in verdict["detail"]


def test_a_previous_hops_flag_counts_within_grace_and_not_after(session, client):
    _, folder, _, roster = session
    team = "red"
    first = current(folder, team, "web")
    old_flag = read_web_flag(client, team, first["port"])
    gone = lambda: next((e["wall"] for e in read_events(folder / team / "truth.jsonl")     # noqa: E731
                         if e["event"] == "hop.old_stopped" and e["container"] == first["container"]), None)
    ended = wait_for(Condition(gone, "the web instance read from is replaced"), 30)
    assert time.time() < ended + GRACE_S - 1
    assert submit(roster, team, "recon-race", old_flag)["reason"] == "accepted"
    # Another instance's flag of the same kind, submitted only after its grace ran out.
    second = current(folder, team, "web")
    late_flag = read_web_flag(client, team, second["port"])
    gone_too = lambda: next((e["wall"] for e in read_events(folder / team / "truth.jsonl")  # noqa: E731
                             if e["event"] == "hop.old_stopped" and e["container"] == second["container"]), None)
    ended = wait_for(Condition(gone_too, "the second web instance is replaced"), 30)
    wait_for(Condition(lambda: time.time() > ended + GRACE_S + 0.5, "the grace period is over"), GRACE_S + 5)
    verdict = submit(roster, team, "recon-race", late_flag)
    assert verdict["reason"] == "expired" and verdict["points"] == 0, verdict


def test_another_teams_flag_and_a_bad_token_score_nothing(session, client):
    _, folder, _, roster = session
    blue_flag = as_student(client, "blue", f"curl -s -m 5 ftp://target:{current(folder, 'blue', 'ftp')['port']}/flag.txt").strip()
    assert submit(roster, "green", "recon-race", blue_flag)["reason"] == "foreign-team"
    assert submit(roster, "green", "recon-race", blue_flag, token="guessed")["status"] == 400


def test_the_scoreboard_form_takes_a_flag_and_the_scoreboard_shows_it(session, client):
    """Real headless Chromium: a team submits through the form and watches its total change."""
    from playwright.sync_api import sync_playwright
    _, folder, _, roster = session
    team = "green"
    before = next(t["total"] for t in json.loads(urllib.request.urlopen(roster["scoreboard"] + "scores.json").read())["teams"]
                  if t["team"] == team)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(roster["scoreboard"])
        row = page.locator(f"#scores tr[data-team='{team}'] .total")
        assert row.inner_text() == str(before)
        page.goto(roster["scoreboard"] + "submit")
        flag = as_student(client, team, f"curl -s -m 5 ftp://target:{current(folder, team, 'ftp')['port']}/flag.txt").strip()
        page.fill("input[name=token]", roster["teams"][team]["token"])
        page.select_option("select[name=exercise]", "recon-race")
        page.fill("textarea[name=answer]", flag)
        page.click("button[type=submit]")
        assert "accepted, 10 points" in page.locator("#verdict").inner_text()
        assert flag in page.locator("table.subs").inner_text()      # the team's own submissions
        page.goto(roster["scoreboard"])
        page.wait_for_function(f"() => document.querySelector(\"#scores tr[data-team='{team}'] .total\").textContent"
                               f" === '{before + 10}'", timeout=10_000)
        browser.close()
    assert not errors, errors


def test_the_instructor_pages_need_the_instructors_token_and_force_a_hop(session):
    _, folder, _, roster = session
    url = roster["instructor"]["overview"]
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(url, timeout=5)
    assert denied.value.code == 401
    import base64
    import re
    auth = {"Authorization": "Basic " + base64.b64encode(f"instructor:{roster['instructor']['token']}".encode()).decode()}
    for path, needle in (("", "Serving now (ground truth)"), ("/export.csv", "wall,team,exercise")):
        with urllib.request.urlopen(urllib.request.Request(url + path, headers=auth), timeout=5) as r:
            assert needle in r.read().decode()
    page = urllib.request.urlopen(urllib.request.Request(url, headers=auth), timeout=5).read().decode()
    csrf = re.search(r"name=csrf value='([0-9a-f]+)'", page).group(1)
    # Force a hop of blue's ssh (it would not hop for 10 minutes) through blue's console.
    before = current(folder, "blue", "ssh")["hop"]
    form = urllib.parse.urlencode({"csrf": csrf, "team": "blue", "service": "ssh", "action": "hop"}).encode()
    with urllib.request.urlopen(urllib.request.Request(url + "/control", form, headers=auth), timeout=10) as r:
        assert "blue: ssh hop forced" in r.read().decode()
    wait_for(Condition(lambda: current(folder, "blue", "ssh")["hop"] > before, "blue's ssh hopped"), 30)
    assert any(e["event"] == "console.hop" for e in read_events(folder / "blue" / "truth.jsonl"))
    # Without the page's form field, the same request is refused (a student's page cannot make it).
    bad = urllib.parse.urlencode({"team": "blue", "service": "ssh", "action": "hop"}).encode()
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(urllib.request.Request(url + "/control", bad, headers=auth), timeout=10)
    assert refused.value.code == 403


def test_defend_answers_are_judged_by_a_real_trial_run(session):
    """Two policies, each run by the grader for real against the scripted attacker: one that
    leaves no residual life after the attacker's delay passes, a slow fixed one does not."""
    from mtdlab.host.grader import grade
    path, folder, _, roster = session
    assert submit(roster, "red", "defend", "{law: uniform, low_s: 6, high_s: 8}")["reason"] == "pending"
    assert submit(roster, "blue", "defend", "{law: fixed, period_s: 300}")["reason"] == "pending"
    said = []
    assert grade(path, folder, once=True, say=said.append) == 2
    results = {r["team"]: r for r in json.loads(urllib.request.urlopen(roster["scoreboard"] + "scores.json").read())["teams"]}
    assert results["red"]["exercises"]["defend"] == 40, said
    assert results["blue"]["exercises"]["defend"] == 0, said
    assert any("blue, defend: wrong" in m and "act-after-delay success" in m for m in said), said
    assert list((folder / "red").glob("defend-*/run/report.html"))


def test_an_unhealthy_team_lab_is_healed_with_its_folder_keys_and_password(session, client):
    """Green's target dies: status says so, `class heal` remakes green's lab alone (same folder,
    truth log going on, the roster's password) and the scoreboard reaches its new console."""
    path, folder, _, roster = session
    client.containers.list(filters={"label": ["com.docker.compose.project=mtdclass-it-green",
                                              "com.docker.compose.service=target"]})[0].kill()
    rows = {r["team"]: r for r in classroom.class_status(path)}
    assert not rows["green"]["healthy"] and rows["red"]["healthy"] and rows["blue"]["healthy"]
    started = sum(e["event"] == "controller.started" for e in read_events(folder / "green" / "truth.jsonl"))
    assert classroom.class_heal(path, folder, say=lambda m: None) == ["green"]
    assert all(r["healthy"] for r in classroom.class_status(path))
    events = list(read_events(folder / "green" / "truth.jsonl"))
    assert sum(e["event"] == "controller.started" for e in events) == started + 1
    ip = json.loads((folder / "consoles.json").read_text())["green"].split("//")[1].split(":")[0]
    controller = client.containers.list(filters={"label": ["com.docker.compose.project=mtdclass-it-green",
                                                           "com.docker.compose.service=controller"]})[0]
    assert controller.attrs["NetworkSettings"]["Networks"]["mtdclass-it-green_mgmt"]["IPAddress"] == ip
    test_ssh_login_with_the_roster_password_works_and_a_wrong_one_fails(session)


def test_class_down_leaves_nothing(session, client):
    path, _, _, _ = session
    removed = classroom.class_down(path, say=lambda m: None)
    assert removed == ["mtdclass-it-_board", "mtdclass-it-blue", "mtdclass-it-green", "mtdclass-it-red"]
    assert not any(lab_resources(client, name) for name in removed)
    assert classroom.class_down(path, say=lambda m: None) == []     # again: nothing to do, no error


def test_a_failed_start_removes_every_team_lab(tmp_path, client):
    """Blue's workstation port is taken: red came up first, and is removed with everything else."""
    (tmp_path / "scenario.yaml").write_text(textwrap.dedent(SCENARIO))
    path = tmp_path / "class.yaml"
    path.write_text("name: itfail\nscenario: scenario.yaml\nteams: [red, blue]\nseed: 9\nport_base: 42000\n"
                    "scripted_attacker: false\n")
    said = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 42015))
        taken.listen()
        with pytest.raises(LabError, match="42015"):
            classroom.class_up(path, tmp_path / "session", said.append)
    assert any("team red up" in m for m in said) and any("removing every team lab" in m for m in said)
    assert not lab_resources(client, "mtdclass-itfail-red") and not lab_resources(client, "mtdclass-itfail-blue")
