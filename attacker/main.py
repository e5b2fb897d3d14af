"""Attacker loop: its profile (attacker/profiles.py, docs/attackers.md) plans each round (which
ports, when, how long before acting); the loop scans, version-scans what was found, acts, repeats.

Bounded in count (the plan's max_sweeps) and time (MTDLAB_ATTACKER_MAX_S, default one
hour), and it refuses any target outside the lab network before sending a packet.
Writes MTDLAB_RUN_DIR/attacker/observations.jsonl and every scan's raw XML beside it.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path

import nmap

from mtdlab.inlab import container
from mtdlab.contract.events import EventLog
from mtdlab.contract.limits import LIMITS
from mtdlab.contract.scope import in_scope_or_exit

from . import profiles
from .followup import FollowUps
from .observe import observations, open_ports


def clock() -> dict:
    return {"wall": round(time.time(), 6), "mono": round(time.monotonic(), 6)}


def scan(scanner, ip: str, ports: str, arguments: str, xml_path: Path):
    start = clock()
    result = scanner.scan(ip, ports=ports, arguments=arguments, sudo=False)
    end = clock()
    raw = scanner.get_nmap_last_output()
    xml_path.write_text(raw.decode() if isinstance(raw, bytes) else raw)
    return result, start, end


def main() -> int:
    scenario, run_dir = container.start("attacker")
    plan = scenario.attacker
    target = os.environ.get("MTDLAB_TARGET", "target")
    ip = in_scope_or_exit(target, "attacker")
    if plan is None:
        print("attacker: the scenario has no attacker plan; nothing to do", flush=True)
        return 0
    out = run_dir / "attacker"
    (out / "xml").mkdir(parents=True, exist_ok=True)
    log = EventLog(out / "observations.jsonl")
    max_s = min(float(os.environ.get("MTDLAB_ATTACKER_MAX_S") or scenario.duration_s or LIMITS["duration_s"].high),
                LIMITS["duration_s"].high)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    scanner = nmap.PortScanner()
    timing = f"-{plan.timing}"
    profile = profiles.make(plan, scenario.seed)
    log.write("attacker.started", target=ip, ports=plan.port_spec, timing=plan.timing,
              version_scan=plan.version_scan, max_sweeps=plan.max_sweeps, max_s=max_s, profile=plan.profile)
    print(f"attacker: {plan.profile} on {ip} ports {plan.port_spec} with {plan.timing}, "
          f"at most {plan.max_sweeps} sweeps / {max_s:g} s", flush=True)
    followups = FollowUps(ip, log, stop, profile.followup) if plan.act_delay_s is not None else None
    began, done = time.monotonic(), 0
    for sweep in range(1, plan.max_sweeps + 1):
        rnd, start_at = profile.next_round(time.monotonic())
        # Wait for the round's moment; a profile's wake (a closed port, for hop-aware) cuts it short.
        while (left := start_at - time.monotonic()) > 0 and not stop.is_set() and not profile.wake.is_set():
            stop.wait(min(left, 0.05))
        if profile.wake.is_set() and start_at > time.monotonic():
            rnd, start_at = profile.next_round(time.monotonic())
        if stop.is_set() or time.monotonic() - began > max_s:
            break
        done = sweep
        # -Pn: the target is known to be up; -n: no DNS; --max-retries 1 keeps a sweep short.
        result, start, end = scan(scanner, ip, rnd.ports, " ".join(("-sS -Pn -n", timing, "--max-retries 1", *rnd.extra)),
                                  out / "xml" / f"sweep-{sweep:05d}-ports.xml")
        records = observations(result, ip, sweep, "ports", start, end)
        found = open_ports(records)
        for r in records:
            log.write("observation", **r)
        log.write("sweep.done", sweep=sweep, scan="ports", target=ip, open=found,
                  start_wall=start["wall"], start_mono=start["mono"], end_wall=end["wall"], end_mono=end["mono"],
                  xml=f"xml/sweep-{sweep:05d}-ports.xml", profile=plan.profile, scope=rnd.scope,
                  **({"scanned": rnd.ports} if rnd.scope != "full" else {}), **rnd.note)
        profile.seen(rnd, start["mono"], end["mono"], found)
        if followups and rnd.delay_s is not None:
            followups.schedule(sweep, found, end["mono"], rnd.delay_s)
        if plan.version_scan and found and not stop.is_set():
            result, start, end = scan(scanner, ip, ",".join(map(str, found)), f"-sV -Pn -n {timing}",
                                      out / "xml" / f"sweep-{sweep:05d}-version.xml")
            records = observations(result, ip, sweep, "version", start, end)
            for r in records:
                log.write("observation", **r)
            log.write("sweep.done", sweep=sweep, scan="version", target=ip, open=open_ports(records),
                      start_wall=start["wall"], start_mono=start["mono"], end_wall=end["wall"], end_mono=end["mono"],
                      xml=f"xml/sweep-{sweep:05d}-version.xml")
        print(f"attacker: sweep {sweep} ({rnd.scope}): open {found}", flush=True)
    if followups:
        followups.wait(plan.act_delay_s or 0.0)
    log.write("attacker.stopped", sweeps=done)
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
