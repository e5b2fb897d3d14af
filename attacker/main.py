"""Attacker loop: sweep the target's ports, version-scan what was found, pause, repeat.

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
    log.write("attacker.started", target=ip, ports=plan.port_spec, timing=plan.timing,
              version_scan=plan.version_scan, max_sweeps=plan.max_sweeps, max_s=max_s)
    print(f"attacker: sweeping {ip} ports {plan.port_spec} with {plan.timing}, at most {plan.max_sweeps} sweeps / {max_s:g} s",
          flush=True)
    followups = FollowUps(ip, plan.act_delay_s, log, stop) if plan.act_delay_s is not None else None
    began, done = time.monotonic(), 0
    for sweep in range(1, plan.max_sweeps + 1):
        if stop.is_set() or time.monotonic() - began > max_s:
            break
        done = sweep
        # -Pn: the target is known to be up; -n: no DNS; --max-retries 1 keeps a sweep short.
        result, start, end = scan(scanner, ip, plan.port_spec, f"-sS -Pn -n {timing} --max-retries 1",
                                  out / "xml" / f"sweep-{sweep:05d}-ports.xml")
        records = observations(result, ip, sweep, "ports", start, end)
        found = open_ports(records)
        for r in records:
            log.write("observation", **r)
        log.write("sweep.done", sweep=sweep, scan="ports", target=ip, open=found,
                  start_wall=start["wall"], start_mono=start["mono"], end_wall=end["wall"], end_mono=end["mono"],
                  xml=f"xml/sweep-{sweep:05d}-ports.xml")
        if followups:
            followups.schedule(sweep, found, end["mono"])
        if plan.version_scan and found and not stop.is_set():
            result, start, end = scan(scanner, ip, ",".join(map(str, found)), f"-sV -Pn -n {timing}",
                                      out / "xml" / f"sweep-{sweep:05d}-version.xml")
            records = observations(result, ip, sweep, "version", start, end)
            for r in records:
                log.write("observation", **r)
            log.write("sweep.done", sweep=sweep, scan="version", target=ip, open=open_ports(records),
                      start_wall=start["wall"], start_mono=start["mono"], end_wall=end["wall"], end_mono=end["mono"],
                      xml=f"xml/sweep-{sweep:05d}-version.xml")
        print(f"attacker: sweep {sweep}: open {found}", flush=True)
        if stop.wait(plan.pause_s):
            break
    if followups:
        followups.wait()
    log.write("attacker.stopped", sweeps=done)
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
