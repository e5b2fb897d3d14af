"""`mtdlab run`: one scenario, one isolated lab, one run folder with a report.

The scenario is validated before anything starts. The lab is its own compose project (own
networks, volume and ports), so runs can go side by side. Whatever happens (the run's end,
Ctrl-C, SIGTERM, a failure) the lab is torn down completely; then the metrics and the
report are made from the raw data in the run folder.
"""
from __future__ import annotations

import json
import secrets
import signal
import threading
import time
from pathlib import Path

from mtdlab.contract import keys
from mtdlab.contract.events import read_events
from mtdlab.host.engines import lab_type
from mtdlab.host.lab import Lab, LabError
from mtdlab.host.runfolder import remove_links
from mtdlab.reporting.report import write_report
from mtdlab.research.manifest import write_manifest
from mtdlab.experiments import EXPERIMENTS, load_scenario


class Interrupted(Exception):
    pass


def _progress(lab: Lab, out: Path) -> str:
    hops = sum(e["event"] == "hop.done" and e["hop"] >= 1 for e in lab.events())
    obs = out / "attacker" / "observations.jsonl"
    sweeps = sum(e["event"] == "sweep.done" and e["scan"] == "ports" for e in read_events(obs)) if obs.exists() else 0
    counts = {name: sum(1 for _ in open(out / f"{name}.jsonl")) if (out / f"{name}.jsonl").exists() else 0
              for name in ("legit", "direct", "sapp-client")}
    clients = "  ".join(f"{name} requests {n}" for name, n in counts.items() if n or name == "legit")
    return f"hops {hops}  sweeps {sweeps}  {clients}"


def scenario_keys(scenario) -> list:
    """The keys a lab of this scenario needs beyond the console's and Redis's."""
    return ([keys.KEYED] if any(s.hop.interval.law == "keyed" for s in scenario.services) else []) \
        + ([keys.SAPP] if scenario.sapp else [])


def run_duration(scenario, override: float | None = None) -> float:
    """How long a run lasts: the override (`--duration`), the scenario's duration_s, or 300 s;
    an experiment that runs its own steps (flood) sets it instead."""
    for experiment in EXPERIMENTS:
        steps_take = experiment.duration(scenario) if experiment.duration else None
        if steps_take is not None:
            return steps_take
    return float(override or scenario.duration_s or 300)


class LaunchContext:
    """What an experiment's launcher and steps get of the host (mtdlab.experiments.experiment):
    the lab, the run folder, the run's keys, and ways to run a client in the lab and to fail."""

    def __init__(self, lab: Lab, out: Path, env: dict[str, str]):
        self.lab, self.out, self.env = lab, out, env
        self.scenario_in_lab = f"/lab/scenario/{lab.scenario.name}"

    def key(self, kind) -> str | None:
        return self.env.get(kind.env)

    def ip(self, role: str) -> str:
        """A lab container's address on the lab network (from the controller's start event)."""
        return next(e for e in self.lab.events() if e["event"] == "controller.started")[f"{role}_ip"]

    def in_lab(self, name: str, command: list[str], env: dict | None = None) -> threading.Thread:
        """Run a client inside the lab (in the controller's container, on the lab network), so no
        host port is needed; its output lands in /lab/run, a failure in OUT/NAME.error."""
        controller = self.lab.container("controller")

        def client():
            result = controller.exec_run(command, environment=env)
            if result.exit_code != 0:
                (self.out / f"{name}.error").write_text(result.output.decode(errors="replace"))

        t = threading.Thread(target=client, name=name, daemon=True)
        t.start()
        return t

    def fail(self, message: str):
        raise LabError(message)


def run_scenario(path: str | Path, duration: float | None = None, out: Path | None = None,
                 say=print, watch_port: int | None = None, engine: str = "local", reserve: dict | None = None,
                 stop: threading.Event | None = None) -> Path:
    """One run, its folder and report. stop (a sweep's runs side by side): when set, the run is
    interrupted as by Ctrl-C, tearing its lab down."""
    scenario = load_scenario(path)
    stop = stop or threading.Event()
    make_lab = lab_type(engine, reserve)   # checked before anything starts
    if engine != "local" and any(e.steps for e in EXPERIMENTS if e.duration and e.duration(scenario) is not None):
        raise LabError(f"{path}: this scenario's experiment runs its own steps (flooding), which need the local "
                       "engine; run it without --engine swarm")
    duration = run_duration(scenario, duration)
    out = Path(out or Path("runs") / f"{scenario.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and any(out.iterdir()):
        raise LabError(f"{out} is not empty; a run folder holds one run")
    out.mkdir(parents=True, exist_ok=True)
    (out / "scenario.yaml").write_text(scenario.source)
    meta = {"scenario_file": str(path), "duration_s": duration, "engine": engine, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    write_manifest(out, scenario, duration)   # images, code, host: what `mtdlab rerun` holds a rerun to
    env = {"MTDLAB_ATTACKER_MAX_S": str(duration)}
    # Fresh keys for every run; the host user keeps them owner-only (`mtdlab client`, `mtdlab console`).
    for kind in (keys.CONSOLE, keys.REDIS, *scenario_keys(scenario)):
        env[kind.env] = keys.new()
        keys.write(kind, out, env[kind.env])
    lab = make_lab(f"mtdrun-{scenario.name[:16]}-{secrets.token_hex(3)}", out / "scenario.yaml", out, extra_env=env)

    def interrupt(*_):
        raise Interrupted()
    # SIGTERM tears the lab down like Ctrl-C does (only the main thread may set handlers).
    main_thread = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, interrupt) if main_thread else None
    say(f"run: {scenario.name} for {duration:g} s in lab {lab.name} ({engine} engine); folder {out}")
    viewer = None
    if watch_port is not None:
        from mtdlab.host.watch import open_server
        from mtdlab.live.feed import LiveFeed
        viewer = open_server(LiveFeed(out), "127.0.0.1", watch_port, say).start()
        say(f"run: live view on {viewer.url}")
    try:
        lab.up(("target", "proxy", "controller"))
        names = [s.name for s in scenario.services]
        lab.wait_for(lambda l: {e["service"] for e in l.events() if e["event"] == "hop.done"} >= set(names),
                     "first placement of every service", 90)
        say("run: services placed" + ("; attacker starting" if scenario.attacker else ""))
        if scenario.attacker:
            lab.start(("attacker",))
        ctx = LaunchContext(lab, out, env)
        clients = [e.launch(ctx, scenario, duration) for e in EXPERIMENTS if e.launch]
        began = time.monotonic()
        for experiment in EXPERIMENTS:
            if experiment.steps and experiment.duration and experiment.duration(scenario) is not None:
                experiment.steps(ctx, scenario, out, say)   # its own steps instead of a fixed duration
                duration = 0
        attacker_failed = not scenario.attacker   # nothing to watch
        while (left := duration - (time.monotonic() - began)) > 0:
            if stop.wait(min(10.0, left)):   # a sleep unless a sweep stops its runs
                raise Interrupted()
            if lab.events() and lab.events()[-1]["event"] == "controller.stopped":
                raise LabError(f"the controller stopped early: {lab.logs('controller')[-1500:]}")
            if not attacker_failed and (attacker_failed := _attacker_failed(lab, out, time.monotonic() - began)):
                say(f"run: {attacker_failed}; the run goes on without it (see attacker.error)")
            say(f"run: {time.monotonic() - began:5.0f}/{duration:g} s  {_progress(lab, out)}")
        for client in clients:
            if client:
                client.join(timeout=60)
        say("run: stopping the attacker, then the controller")
        # In this order: the attacker's last scan must not meet services the shutdown removes.
        lab.stop("attacker")
        lab.stop("controller")
    except (KeyboardInterrupt, Interrupted):
        say("run: interrupted; tearing the lab down")
        raise
    finally:
        if viewer:
            viewer.stop()
        lab.down()
        if main_thread:
            signal.signal(signal.SIGTERM, old)
        say(f"run: lab {lab.name} removed")
        if links := remove_links(out):
            say(f"run: removed {len(links)} link(s) or special file(s) the lab left in the run folder: {links[:5]}")
    summary = write_report(out)
    say(f"run: report {out / 'report.html'}")
    for problem in summary["problems"]:
        say(f"run: problem: {problem['part']} failed during the run: {problem['error']} "
            f"({out / (problem['part'] + '.error')}); the report covers the rest")
    return out


def _attacker_failed(lab, out: Path, at_s: float) -> str | None:
    """The attacker ends by itself only when its plan is done (exit 0); one that exited with an
    error before the run's end (a crash, killed) is written to attacker.error, with its log's
    last lines, and the report says so. Returns what happened, or None while all is well."""
    container = lab.container("attacker")
    state = container.attrs.get("State", {}) if container is not None else {}
    if state.get("Status") != "exited" or state.get("ExitCode") == 0:
        return None
    what = f"the attacker exited with code {state.get('ExitCode')} about {at_s:.0f} s into the run"
    (out / "attacker.error").write_text(f"{what}\n--- the end of its log ---\n{lab.logs('attacker')[-3000:]}")
    return what
