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
from mtdlab.host.flood_run import run_flood
from mtdlab.host.lab import Lab, LabError
from mtdlab.reporting.report import write_report
from mtdlab.contract.scenario import load_scenario


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


def run_duration(scenario, override: float | None = None) -> float:
    """How long a run lasts: the override (`--duration`), the scenario's duration_s, or 300 s; a flood
    scenario's steps set it instead (n values x (step + the flooder's margins + start-up))."""
    if scenario.flood:
        return len(scenario.flood.ns) * (scenario.flood.seconds_per_n + 15)
    return float(override or scenario.duration_s or 300)


def run_scenario(path: str | Path, duration: float | None = None, out: Path | None = None,
                 say=print) -> Path:
    scenario = load_scenario(path)
    duration = run_duration(scenario, duration)
    out = Path(out or Path("runs") / f"{scenario.name}-{time.strftime('%Y%m%d-%H%M%S')}")
    if out.exists() and any(out.iterdir()):
        raise LabError(f"{out} is not empty; a run folder holds one run")
    out.mkdir(parents=True, exist_ok=True)
    (out / "scenario.yaml").write_text(scenario.source)
    meta = {"scenario_file": str(path), "duration_s": duration, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (out / "run.json").write_text(json.dumps(meta, indent=2) + "\n")
    env = {"MTDLAB_ATTACKER_MAX_S": str(duration)}
    # Fresh keys for every run; the host user keeps them owner-only (`mtdlab client`, `mtdlab console`).
    needed = [keys.CONSOLE] + ([keys.KEYED] if any(s.hop.interval.law == "keyed" for s in scenario.services) else []) \
        + ([keys.SAPP] if scenario.sapp else [])
    for kind in needed:
        env[kind.env] = keys.new()
        keys.write(kind, out, env[kind.env])
    lab = Lab(f"mtdrun-{scenario.name[:16]}-{secrets.token_hex(3)}", out / "scenario.yaml", out, extra_env=env)

    def interrupt(*_):
        raise Interrupted()
    # SIGTERM tears the lab down like Ctrl-C does (only the main thread may set handlers).
    main_thread = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGTERM, interrupt) if main_thread else None
    say(f"run: {scenario.name} for {duration:g} s in lab {lab.name}; folder {out}")
    try:
        lab.up(("target", "proxy", "controller"))
        names = [s.name for s in scenario.services]
        lab.wait_for(lambda l: {e["service"] for e in l.events() if e["event"] == "hop.done"} >= set(names),
                     "first placement of every service", 90)
        say("run: services placed" + ("; attacker starting" if scenario.attacker else ""))
        if scenario.attacker:
            lab.compose("up", "-d", "attacker")
        legit = _start_legit(lab, scenario, duration, out)
        direct = _start_direct(lab, scenario, duration, out, env.get(keys.KEYED.env))
        sapp = _start_sapp_client(lab, scenario, duration, out, env.get(keys.SAPP.env))
        began = time.monotonic()
        if scenario.flood:
            run_flood(lab, scenario, out, say)   # its own steps, one per n, instead of a fixed duration
            duration = 0
        while (left := duration - (time.monotonic() - began)) > 0:
            time.sleep(min(10.0, left))
            if lab.events() and lab.events()[-1]["event"] == "controller.stopped":
                raise LabError(f"the controller stopped early: {lab.logs('controller')[-1500:]}")
            say(f"run: {time.monotonic() - began:5.0f}/{duration:g} s  {_progress(lab, out)}")
        for client in (legit, direct, sapp):
            if client:
                client.join(timeout=60)
        say("run: stopping the attacker, then the controller")
        # In this order: the attacker's last scan must not meet services the shutdown removes.
        lab.compose("stop", "-t", "60", "attacker")
        lab.compose("stop", "-t", "60", "controller")
    except (KeyboardInterrupt, Interrupted):
        say("run: interrupted; tearing the lab down")
        raise
    finally:
        lab.down()
        if main_thread:
            signal.signal(signal.SIGTERM, old)
        say(f"run: lab {lab.name} removed")
    write_report(out)
    say(f"run: report {out / 'report.html'}")
    return out


def _in_lab(lab: Lab, out: Path, name: str, command: list[str], env: dict | None = None) -> threading.Thread:
    """Run a client inside the lab (in the controller's container, on the lab network), so no
    host port is needed; its output lands in /lab/run, a failure in OUT/NAME.error."""
    controller = lab.container("controller")

    def client():
        result = controller.exec_run(command, environment=env)
        if result.exit_code != 0:
            (out / f"{name}.error").write_text(result.output.decode(errors="replace"))

    t = threading.Thread(target=client, name=name, daemon=True)
    t.start()
    return t


def _lab_ip(lab: Lab, role: str) -> str:
    return next(e for e in lab.events() if e["event"] == "controller.started")[f"{role}_ip"]


def _start_legit(lab: Lab, scenario, duration: float, out: Path) -> threading.Thread | None:
    """The legitimate client, against the web service's fixed proxy port."""
    web = next((s for s in scenario.services if s.kind == "web"), None)
    if scenario.legit is None or web is None:
        return None
    return _in_lab(lab, out, "legit", ["python3", "-m", "mtdlab.inlab.legit", f"http://{_lab_ip(lab, 'proxy')}:{web.proxy_port}/",
                                       str(scenario.legit.rate_per_s), str(duration), "/lab/run/legit.jsonl"])


def _start_direct(lab: Lab, scenario, duration: float, out: Path, key: str | None) -> threading.Thread | None:
    """Keyed direct clients, straight to the target (no proxy)."""
    if scenario.direct is None:
        return None
    return _in_lab(lab, out, "direct", ["python3", "-m", "mtdlab.inlab.direct", f"/lab/scenario/{lab.scenario.name}",
                                        _lab_ip(lab, "target"), str(duration), "/lab/run/direct.jsonl"],
                   {keys.KEYED.env: key})


def _start_sapp_client(lab: Lab, scenario, duration: float, out: Path, key: str | None) -> threading.Thread | None:
    """Legitimate clients through the SAPP gateway, to the target's one port."""
    if scenario.sapp_client is None:
        return None
    return _in_lab(lab, out, "sapp-client", ["python3", "-m", "mtdlab.inlab.sapp_client", f"/lab/scenario/{lab.scenario.name}",
                                             _lab_ip(lab, "target"), str(duration), "/lab/run/sapp-client.jsonl"],
                   {keys.SAPP.env: key})
