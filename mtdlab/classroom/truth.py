"""A team's ground truth, as the grader needs it: its services' policies and every instance its
controller started, with the flag it served and when it was up. Built from the team's truth log
as the log grows (mtdlab.live.tail), so a flag served a moment ago can be judged at once."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mtdlab.live.tail import Tailer

# Events that end an instance (each names the instance's container).
ENDS = ("hop.old_stopped", "hop.new_removed", "hop.start_failed", "service.stopped")


@dataclass
class Instance:
    service: str
    hop: int
    container: str
    flag_id: str | None
    port: int
    started: float            # wall clock, s
    ended: float | None = None


@dataclass
class ServicePolicy:
    name: str
    kind: str
    law: dict                 # {"law": ..., parameters}, as in the scenario
    mean_interval_s: float | None
    banner: str               # banner mode ("static" = the true banner)


@dataclass
class TeamTruth:
    team: str
    path: Path
    services: dict[str, ServicePolicy] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)      # by container id
    by_flag: dict[str, Instance] = field(default_factory=dict)        # by flag id
    sapp: bool = False                                               # a single-port gateway runs
    _tailer: Tailer | None = None

    def refresh(self) -> "TeamTruth":
        if self._tailer is None:
            self._tailer = Tailer(self.path)
        restarts = self._tailer.restarts
        events = self._tailer.poll()
        if self._tailer.restarts != restarts:    # the log was replaced: start over
            self.services, self.instances, self.by_flag = {}, {}, {}
        for event in events:
            self.apply(event)
        return self

    def apply(self, e: dict) -> None:
        kind = e.get("event")
        if kind == "controller.started":
            for name, policy in (e.get("services") or {}).items():
                self.services[name] = ServicePolicy(name, policy.get("kind", "?"), policy.get("law") or {},
                                                    policy.get("mean_interval_s"), policy.get("banner") or "static")
        elif kind == "hop.instance_started" and e.get("container"):
            inst = Instance(e["service"], int(e["hop"]), e["container"], e.get("flag_id"), int(e["port"]), float(e["wall"]))
            self.instances[inst.container] = inst
            if inst.flag_id:
                self.by_flag[inst.flag_id] = inst
        elif kind in ENDS and e.get("container") in self.instances:
            self.instances[e["container"]].ended = float(e["wall"])
        elif kind == "sapp.started":
            self.sapp = True

    def of_service(self, service: str) -> list[Instance]:
        return sorted((i for i in self.instances.values() if i.service == service), key=lambda i: i.started)
