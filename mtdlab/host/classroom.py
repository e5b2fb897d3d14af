"""`mtdlab class up | status | down CLASS.yaml`: one isolated lab per team, side by side.

Each team's lab is its own compose project (`mtdclass-CLASS-TEAM`: own networks, keys, run
folder, schedule) publishing its ports from the class's port plan on the class's bind address.
Class labs outlive the command that started them (the instructor's session), so they carry no
owner process for the reaper; `class down` removes them, also after a crash, by their project
names. The roster (owner-only) lists each team's addresses for the instructor to hand out.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from mtdlab.contract import flags, keys, labels, passwords
from mtdlab.classroom.classfile import ClassPlan, lab_prefix, load_class
from mtdlab.contract.console_auth import CONSOLE_PORT
from mtdlab.contract.events import read_events
from mtdlab.contract.view import with_seed
from mtdlab.experiments import load_scenario
from mtdlab.classroom.board import token_hash
from mtdlab.contract.wait import HttpStatus, wait_for
from mtdlab.host.engines import lab_type
from mtdlab.host.lab import BOARD_COMPOSE_FILE, CLASS_COMPOSE_FILE, COMPOSE_FILE, Lab, LabError, remove_lab
from mtdlab.host.swarm import lab_health, stacks
from mtdlab.host.run import scenario_keys

PLACED_S = 120   # how long a team's lab may take to place every service
BOARD_UP_S = 60  # how long the scoreboard may take to answer


def run_dir(plan: ClassPlan, out: Path | None = None) -> Path:
    """Where the class's team run folders and roster go (default runs/class-NAME)."""
    return Path(out) if out else Path("runs") / f"class-{plan.name}"


def team_lab(plan: ClassPlan, team: str, folder: Path, class_secret: bytes, scenario, make_lab=Lab,
             password: str | None = None) -> tuple[Lab, str]:
    """The team's lab (compose.yaml plus compose.class.yaml: workstation, door, own subnets), with
    fresh keys kept owner-only in its run folder; and the workstation's password, for the roster.
    Given the password (`class heal`), the lab gets the keys its folder already holds."""
    ports = plan.ports(team)
    healing = password is not None
    password = password or passwords.new_password()
    env = {labels.OWNER_PROCESS_ENV: "",          # outlives `class up`: not the reaper's
           # Only the workstation's door faces the room; the proxy, console and live view are the
           # instructor's (a student at the proxy would get every current flag without any recon).
           "MTDLAB_BIND": "127.0.0.1", "MTDLAB_CLASS_BIND": plan.bind,
           "MTDLAB_WORKSTATION_PORT": str(ports["workstation"]),
           "MTDLAB_WORKSTATION_PASSWORD_HASH": passwords.password_hash(password),
           keys.FLAG.env: flags.team_key(class_secret, team).hex(),
           "MTDLAB_ATTACKER_MAX_S": "3600",
           **{f"MTDLAB_NET_{net.upper()}": subnet for net, subnet in plan.networks(team).items()}}
    for kind in (keys.CONSOLE, keys.REDIS, *scenario_keys(scenario)):
        if healing:
            env[kind.env] = (folder / kind.file).read_text().strip()
        else:
            env[kind.env] = keys.new()
            keys.write(kind, folder, env[kind.env])
    lab = make_lab(plan.lab_name(team), folder / "scenario" / "scenario.yaml", folder,
              ports={k: ports[k] for k in ("web", "ssh", "redis", "console", "dashboard")}, extra_env=env,
              compose_files=(COMPOSE_FILE, CLASS_COMPOSE_FILE))
    return lab, password


def lab_services_but(left_out: str) -> tuple[str, ...]:
    """Every service a team's lab's compose files define, but one."""
    import yaml
    names = {n for f in (COMPOSE_FILE, CLASS_COMPOSE_FILE) for n in yaml.safe_load(f.read_text())["services"]}
    return tuple(sorted(names - {left_out}))


def chosen_exercises(plan: ClassPlan, scenarios: dict) -> list[str]:
    """The class's exercises: those it names, or every one that fits. With one scenario per team,
    an exercise needs to fit one team's lab; the teams whose lab it does not fit are told so when
    they submit (Exercise.available)."""
    from exercises import EXERCISES
    fits = {name: any(x.fits(s) for s in scenarios.values()) for name, x in EXERCISES.items()}
    if not plan.exercises:
        return [name for name in EXERCISES if fits[name]]
    unfit = [name for name in plan.exercises if not fits[name]]
    if unfit:
        raise LabError(f"{plan.file}: exercises: {', '.join(unfit)} cannot be done in a lab of scenario "
                       f"{scenario_names(scenarios)} (see exercises/*/instructor.md for what each needs)")
    return list(plan.exercises)


def scenario_names(scenarios: dict) -> str:
    return ", ".join(sorted({s.name for s in scenarios.values()}))


def load_scenarios(plan: ClassPlan) -> dict:
    """Every team's scenario, validated before anything starts (a bad one names its file:line)."""
    loaded = {path: load_scenario(path) for path in plan.scenarios}
    return {team: loaded[plan.scenario_of(team)] for team in plan.teams}


def class_up(path: Path, out: Path | None = None, say=print, engine: str = "local", reserve: dict | None = None) -> Path:
    plan = load_class(path)
    scenarios = load_scenarios(plan)
    exercise_names = chosen_exercises(plan, scenarios)
    make_lab = lab_type(engine, reserve)
    if running_labs(plan.name):
        raise LabError(f"class {plan.name} is already up; `mtdlab class down {path}` first")
    base = run_dir(plan, out).resolve()
    if base.exists() and any(base.iterdir()):
        raise LabError(f"{base} is not empty; a class folder holds one session (move it away, or --out elsewhere)")
    base.mkdir(parents=True, exist_ok=True)
    say(f"class {plan.name}: {len(plan.teams)} team lab(s) of scenario {scenario_names(scenarios)} on the {engine} engine; "
        f"exercises {', '.join(exercise_names)}")
    say(f"port plan: scoreboard {plan.bind}:{plan.scoreboard_port}; " + "; ".join(
        f"{t} workstation ssh {plan.bind}:{p['workstation']}" for t in plan.teams for p in [plan.ports(t)]))
    secret = keys.new()
    keys.write(keys.CLASS, base, secret)
    tokens = {t: secrets.token_urlsafe(16) for t in plan.teams}
    instructor_token = secrets.token_urlsafe(16)
    write_private(base / "board.json", {"teams": {t: token_hash(tok) for t, tok in tokens.items()},
                                        "instructor": token_hash(instructor_token)})
    (base / "class.json").write_text(json.dumps({
        "class": plan.name, "teams": list(plan.teams), "exercises": exercise_names, "grace_s": plan.flag_grace_s,
        "scenarios": {t: s.name for t, s in scenarios.items()}, "engine": engine,
        "reservation": reserve,
        # The instructor's overview links each team's live view (on the instructor's loopback).
        "live_views": {t: f"http://127.0.0.1:{plan.ports(t)['dashboard']}/" for t in plan.teams}}, indent=2) + "\n")
    (base / "board").mkdir()
    scoreboard = f"http://{plan.bind}:{plan.scoreboard_port}/"
    roster = {"class": plan.name, "bind": plan.bind, "scoreboard": scoreboard,
              "instructor": {"overview": scoreboard + "instructor", "user": "instructor", "token": instructor_token},
              "teams": {}}
    services = () if plan.scripted_attacker else lab_services_but("attacker")   # () : every service
    labs = {}
    try:
        for i, team in enumerate(plan.teams, 1):
            scenario, folder = scenarios[team], base / team
            (folder / "scenario").mkdir(parents=True, exist_ok=True)
            (folder / "scenario" / "scenario.yaml").write_text(
                with_seed(scenario.source, plan.team_seed(team), f"team {team} of class {plan.name}: its own seed"))
            lab, password = team_lab(plan, team, folder, bytes.fromhex(secret), scenario, make_lab)
            t0 = time.monotonic()
            start_team(lab, team, scenario, services)
            labs[team] = lab
            say(f"class {plan.name}: team {team} up ({i}/{len(plan.teams)}, {time.monotonic() - t0:.0f} s"
                + (f", node {lab_health(lab.name)['node']})" if engine == "swarm" else ")"))
            p = plan.ports(team)
            roster["teams"][team] = {
                # For the team:
                "workstation": {"ssh": f"ssh -p {p['workstation']} student@{plan.bind}", "user": "student",
                                "password": password},
                "token": tokens[team], "scenario": str(plan.scenario_of(team)),
                "redis_password": lab.redis_password,
                **{kind.file.removesuffix(".key") + "_key": lab.extra_env[kind.env]
                   for kind in scenario_keys(scenario)},
                # For the instructor only (on this machine's loopback):
                "lab": lab.name, "run_dir": str(folder),
                "proxy_web": f"http://127.0.0.1:{p['web']}/", "live_view": f"http://127.0.0.1:{p['dashboard']}/",
                "console": f"http://127.0.0.1:{p['console']}", "console_key_file": str(folder / "console.key")}
        board = board_lab(plan, base)
        board.compose("up", "-d")
        connect_consoles(base, labs, board.container("scoreboard"))
        host = "127.0.0.1" if plan.bind == "0.0.0.0" else plan.bind
        wait_for(HttpStatus(f"http://{host}:{plan.scoreboard_port}/healthz"), BOARD_UP_S)
    except BaseException:
        say(f"class {plan.name}: start failed; removing every team lab")
        class_down(path, say=lambda m: None)
        raise
    write_private(base / "roster.json", roster)
    say(f"class {plan.name}: scoreboard {scoreboard} (instructor: {scoreboard}instructor)")
    say(f"class {plan.name}: roster (owner-only) {base / 'roster.json'}: hand each team its part")
    return base


def board_lab(plan: ClassPlan, base: Path) -> Lab:
    """The class's scoreboard, as a compose project of its own (compose.board.yaml)."""
    env = {labels.OWNER_PROCESS_ENV: "", "MTDLAB_CLASS_DIR": str(base), "MTDLAB_CLASS_BIND": plan.bind,
           "MTDLAB_SCOREBOARD_PORT": str(plan.scoreboard_port), "MTDLAB_NET_BOARD": plan.board_subnet}
    return Lab(board_name(plan.name), plan.scenarios[0], base, extra_env=env, compose_files=(BOARD_COMPOSE_FILE,))


def start_team(lab: Lab, team: str, scenario, services: tuple[str, ...]) -> None:
    """Start the team's lab; wait until its (new) controller placed every service (a healed lab's log goes on)."""
    earlier = sum(e["event"] == "controller.started" for e in lab.events())

    def placed(l) -> bool:
        events = l.events()
        starts = [i for i, e in enumerate(events) if e["event"] == "controller.started"]
        return len(starts) > earlier and {e["service"] for e in events[starts[-1]:] if e["event"] == "hop.done"} \
            >= {s.name for s in scenario.services}
    lab.up(services)
    lab.wait_for(placed, f"team {team}: every service placed", PLACED_S)


def connect_consoles(base: Path, labs: dict, scoreboard) -> None:
    """Put the scoreboard on every team's management network, where that team's console listens,
    and tell it each console's address (consoles.json): the instructor's page pauses, resumes and
    forces hops through them, signed with the team's console key. `class heal` calls it again
    for the labs it remade (the others keep their entries)."""
    import docker
    client = docker.from_env()
    path = base / "consoles.json"
    consoles = json.loads(path.read_text()) if path.exists() else {}
    for team, lab in labs.items():
        network = client.networks.get(f"{lab.name}_mgmt")
        network.connect(scoreboard)
        consoles[team] = f"http://{lab.address_on('controller', network.name)}:{CONSOLE_PORT}"
    path.write_text(json.dumps(consoles, indent=2) + "\n")


def board_name(class_name: str) -> str:
    """The scoreboard's project: the class's prefix, then a name no team can have (teams start with a letter)."""
    return f"{lab_prefix(class_name)}_board"


def write_private(path: Path, data: dict) -> None:
    """Owner-only, made anew (never through a link planted in its place)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(data, indent=2) + "\n")


def running_labs(class_name: str) -> list[str]:
    """Compose projects of this class that have any container, network or volume."""
    import docker
    client = docker.from_env()
    found = set()
    for listing in (client.containers.list(all=True, filters={"label": labels.COMPOSE_PROJECT}),
                    client.networks.list(filters={"label": labels.COMPOSE_PROJECT}),
                    client.volumes.list(filters={"label": labels.COMPOSE_PROJECT})):
        for item in listing:
            project = (item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}).get(labels.COMPOSE_PROJECT, "")
            if project.startswith(lab_prefix(class_name)):
                found.add(project)
    return sorted(found | set(stacks(lab_prefix(class_name))))   # Swarm stacks on any node


def class_status(path: Path) -> list[dict]:
    """Per team: containers running of those made, hops so far, seconds since the last hop; on
    Swarm also the lab's node and, for a lab that is lost (its node gone, a task ended), why. The
    truth log is found through the team's controller (its run folder's mount)."""
    import docker
    plan = load_class(path)
    client = docker.from_env()
    on_swarm = set(stacks(lab_prefix(plan.name)))
    rows = []
    for team in plan.teams:
        name = plan.lab_name(team)
        containers = client.containers.list(all=True, filters={"label": f"{labels.COMPOSE_PROJECT}={name}"})
        mounts = next((c.attrs["Mounts"] for c in containers if c.labels.get(labels.COMPOSE_SERVICE) == "controller"), [])
        folder = next((Path(m["Source"]) for m in mounts if m["Destination"] == "/lab/run"), None)
        if name in on_swarm:   # the controller may be on another node: its service's spec has the folder
            spec = client.services.get(f"{name}_controller").attrs["Spec"]["TaskTemplate"]["ContainerSpec"]
            folder = next((Path(m["Source"]) for m in spec.get("Mounts", []) if m["Target"] == "/lab/run"), folder)
        truth = folder / "truth.jsonl" if folder else None
        events = list(read_events(truth)) if truth and truth.exists() else []
        done = [e for e in events if e["event"] == "hop.done" and e["hop"] >= 1]
        running = sum(c.status == "running" for c in containers)
        row = {"team": team, "lab": name, "engine": "swarm" if name in on_swarm else "local",
               "containers": len(containers), "running": running, "hops": len(done), "last_hop_s_ago": round(time.time() - done[-1]["wall"], 1) if done else None,
               "healthy": bool(containers) and running == len(containers)}
        if name in on_swarm:
            health = lab_health(name)
            row.update(node=health["node"], lost=health["lost"], reason=health["reason"], healthy=not health["lost"])
        rows.append(row)
    return rows


def class_heal(path: Path, out: Path | None = None, say=print) -> list[str]:
    """Remake every lost or unhealthy team lab on the class's engine: same folder (the truth log goes on),
    keys, flags, password and ports; on Swarm on a node that is up; the scoreboard joins its new network."""
    plan = load_class(path)
    base = run_dir(plan, out).resolve()
    try:
        meta, roster = (json.loads((base / f).read_text()) for f in ("class.json", "roster.json"))
    except OSError:
        raise LabError(f"no class.json and roster.json in {base}: is class {plan.name} up (or in another --out)?") from None
    make_lab = lab_type(meta.get("engine", "local"), meta.get("reservation"))
    secret = keys.from_file(keys.CLASS, base / keys.CLASS.file)
    scenarios = load_scenarios(plan)
    services = () if plan.scripted_attacker else lab_services_but("attacker")
    board = Lab(board_name(plan.name), plan.scenarios[0], base).container("scoreboard")
    healed = {}
    for row in class_status(path):
        if row["healthy"]:
            continue
        team = row["team"]
        say(f"class {plan.name}: team {team} is {'lost: ' + row.get('reason', '') if row.get('lost') else 'unhealthy'}; remaking its lab")
        lab, _ = team_lab(plan, team, base / team, secret, scenarios[team], make_lab, roster["teams"][team]["workstation"]["password"])
        lab.down()
        start_team(lab, team, scenarios[team], services)
        healed[team] = lab
        where = f" on node {lab_health(lab.name)['node']}" if lab.engine == "swarm" else ""
        say(f"class {plan.name}: team {team} healed{where}")
    if healed and board is not None:
        connect_consoles(base, healed, board)
    return sorted(healed)


def class_down(path: Path, say=print) -> list[str]:
    """Remove every lab of the class: the plan's teams and any project with the class's prefix."""
    plan = load_class(path)
    # The scoreboard first: it is attached to every team's management network.
    names = sorted(set(running_labs(plan.name)) | {plan.lab_name(t) for t in plan.teams},
                   key=lambda n: (n != board_name(plan.name), n))
    removed = []
    for name in names:
        counts = remove_lab(name)
        if any(counts.values()):
            removed.append(name)
            say(f"class {plan.name}: removed {name} ({counts})")
    return removed


def workstation_shell(path: Path, team: str) -> list[str]:
    """The command that opens a shell on the team's workstation, as its student user."""
    import docker
    plan = load_class(path)
    if team not in plan.teams:
        raise LabError(f"class {plan.name} has no team {team!r}; its teams: {', '.join(plan.teams)}")
    found = docker.from_env().containers.list(filters={"label": [f"{labels.COMPOSE_PROJECT}={plan.lab_name(team)}",
                                                                 f"{labels.COMPOSE_SERVICE}=workstation"]})
    if not found:
        raise LabError(f"team {team}'s workstation is not running; `mtdlab class status {path}`")
    return ["docker", "exec", "-it", "-u", "2000:2000", "-e", "HOME=/home/student", "-w", "/home/student",
            found[0].name, "bash", "-l"]


def submit(path: Path, team: str, exercise: str, answer: str, out: Path | None = None) -> dict:
    """Submit for a team (its token from the class's roster) through the scoreboard's API."""
    import urllib.error
    import urllib.request
    plan = load_class(path)
    roster_path = run_dir(plan, out) / "roster.json"
    try:
        roster = json.loads(roster_path.read_text())
    except OSError:
        raise LabError(f"no roster at {roster_path}: is class {plan.name} up (or in another --out)?") from None
    if team not in roster["teams"]:
        raise LabError(f"class {plan.name} has no team {team!r}; its teams: {', '.join(roster['teams'])}")
    body = json.dumps({"token": roster["teams"][team]["token"], "exercise": exercise, "answer": answer,
                       "via": "cli"}).encode()
    request = urllib.request.Request(roster["scoreboard"] + "api/submit", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise LabError(json.loads(exc.read() or b"{}").get("error", f"the scoreboard answered {exc.code}")) from None
    except urllib.error.URLError as exc:
        raise LabError(f"the scoreboard at {roster['scoreboard']} does not answer: {exc.reason}") from None
