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
import time
from pathlib import Path

from mtdlab.contract import keys, labels
from mtdlab.contract.classfile import ClassPlan, lab_prefix, load_class
from mtdlab.contract.events import read_events
from mtdlab.contract.view import with_seed
from mtdlab.experiments import load_scenario
from mtdlab.host.lab import Lab, LabError, remove_lab

PLACED_S = 120   # how long a team's lab may take to place every service


def run_dir(plan: ClassPlan, out: Path | None = None) -> Path:
    """Where the class's team run folders and roster go (default runs/class-NAME)."""
    return Path(out) if out else Path("runs") / f"class-{plan.name}"


def team_lab(plan: ClassPlan, team: str, folder: Path) -> Lab:
    """The team's lab, with fresh keys kept owner-only in its run folder."""
    ports = plan.ports(team)
    env = {labels.OWNER_PROCESS_ENV: "",          # outlives `class up`: not the reaper's
           "MTDLAB_BIND": plan.bind, "MTDLAB_ATTACKER_MAX_S": "3600"}
    for kind in (keys.CONSOLE, keys.REDIS):
        env[kind.env] = keys.new()
        keys.write(kind, folder, env[kind.env])
    return Lab(plan.lab_name(team), folder / "scenario" / "scenario.yaml", folder,
               ports={k: ports[k] for k in ("web", "ssh", "redis", "console", "dashboard")}, extra_env=env)


def class_up(path: Path, out: Path | None = None, say=print) -> Path:
    plan = load_class(path)
    scenario = load_scenario(plan.scenario)          # validated before anything starts
    if running_labs(plan.name):
        raise LabError(f"class {plan.name} is already up; `mtdlab class down {path}` first")
    base = run_dir(plan, out)
    if base.exists() and any(base.iterdir()):
        raise LabError(f"{base} is not empty; a class folder holds one session (move it away, or --out elsewhere)")
    base.mkdir(parents=True, exist_ok=True)
    say(f"class {plan.name}: {len(plan.teams)} team lab(s) of scenario {scenario.name}, on {plan.bind}")
    say("port plan: " + "; ".join(f"{t} web {p['web']} ssh {p['ssh']} redis {p['redis']} live view {p['dashboard']}"
                                  for t in plan.teams for p in [plan.ports(t)]))
    roster = {"class": plan.name, "scenario": str(plan.scenario), "bind": plan.bind, "teams": {}}
    try:
        for i, team in enumerate(plan.teams, 1):
            folder = base / team
            (folder / "scenario").mkdir(parents=True, exist_ok=True)
            (folder / "scenario" / "scenario.yaml").write_text(
                with_seed(scenario.source, plan.team_seed(team), f"team {team} of class {plan.name}: its own seed"))
            lab = team_lab(plan, team, folder)
            t0 = time.monotonic()
            lab.up()
            lab.wait_for(lambda l: {e["service"] for e in l.events() if e["event"] == "hop.done"}
                         >= {s.name for s in scenario.services}, f"team {team}: every service placed", PLACED_S)
            say(f"class {plan.name}: team {team} up ({i}/{len(plan.teams)}, {time.monotonic() - t0:.0f} s)")
            p = plan.ports(team)
            roster["teams"][team] = {
                "lab": lab.name, "run_dir": str(folder.resolve()),
                "web": f"http://{plan.bind}:{p['web']}/", "ssh": f"{plan.bind}:{p['ssh']}",
                "redis": f"{plan.bind}:{p['redis']}", "live_view": f"http://{plan.bind}:{p['dashboard']}/",
                "console": f"http://{plan.bind}:{p['console']}", "console_key_file": str((folder / "console.key").resolve()),
                "redis_password": (folder / "redis.key").read_text().strip()}
    except BaseException:
        say(f"class {plan.name}: start failed; removing every team lab")
        class_down(path, say=lambda m: None)
        raise
    write_roster(base / "roster.json", roster)
    say(f"class {plan.name}: roster (owner-only) {base / 'roster.json'}")
    return base


def write_roster(path: Path, roster: dict) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(roster, indent=2) + "\n")


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
    return sorted(found)


def class_status(path: Path) -> list[dict]:
    """Per team: containers running of those made, hops so far, seconds since the last hop. The
    truth log is found through the team's controller (its run folder's mount)."""
    import docker
    plan = load_class(path)
    client = docker.from_env()
    rows = []
    for team in plan.teams:
        containers = client.containers.list(all=True, filters={"label": f"{labels.COMPOSE_PROJECT}={plan.lab_name(team)}"})
        controller = next((c for c in containers if c.labels.get(labels.COMPOSE_SERVICE) == "controller"), None)
        folder = next((Path(m["Source"]) for m in (controller.attrs["Mounts"] if controller else [])
                       if m["Destination"] == "/lab/run"), None)
        truth = folder / "truth.jsonl" if folder else None
        events = list(read_events(truth)) if truth and truth.exists() else []
        done = [e for e in events if e["event"] == "hop.done" and e["hop"] >= 1]
        running = sum(c.status == "running" for c in containers)
        rows.append({"team": team, "lab": plan.lab_name(team), "containers": len(containers), "running": running,
                     "hops": len(done), "last_hop_s_ago": round(time.time() - done[-1]["wall"], 1) if done else None,
                     "healthy": bool(containers) and running == len(containers)})
    return rows


def class_down(path: Path, say=print) -> list[str]:
    """Remove every lab of the class: the plan's teams and any project with the class's prefix."""
    plan = load_class(path)
    names = sorted(set(running_labs(plan.name)) | {plan.lab_name(t) for t in plan.teams})
    removed = []
    for name in names:
        counts = remove_lab(name)
        if any(counts.values()):
            removed.append(name)
            say(f"class {plan.name}: removed {name} ({counts})")
    return removed
