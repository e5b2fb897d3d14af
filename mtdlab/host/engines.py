"""Where a lab runs: `--engine local` (compose on this machine's engine, the default) or `--engine
swarm` (a stack on a Docker Swarm this machine manages; mtdlab/host/swarm.py, docs/swarm.md)."""
from __future__ import annotations

from mtdlab.host.lab import Lab, LabError

ENGINES = ("local", "swarm")
# Bounds of a lab's stated reservation on Swarm (--lab-cpus, --lab-memory-mib).
CPUS = (0.05, 64.0)
MEMORY_MIB = (32, 65536)


def reservation(cpus: float | None, memory_mib: int | None) -> dict | None:
    """The lab's reservation for the Swarm's scheduler, checked; None: the default."""
    from mtdlab.host.swarm import DEFAULT_RESERVATION
    if cpus is None and memory_mib is None:
        return None
    cpus = DEFAULT_RESERVATION["cpus"] if cpus is None else cpus
    memory_mib = DEFAULT_RESERVATION["memory"] // 2**20 if memory_mib is None else memory_mib
    if not CPUS[0] <= cpus <= CPUS[1]:
        raise LabError(f"--lab-cpus: expected {CPUS[0]:g} to {CPUS[1]:g} cores, got {cpus:g}")
    if not MEMORY_MIB[0] <= memory_mib <= MEMORY_MIB[1]:
        raise LabError(f"--lab-memory-mib: expected {MEMORY_MIB[0]} to {MEMORY_MIB[1]} MiB, got {memory_mib}")
    return {"cpus": cpus, "memory": memory_mib * 2**20}


def lab_type(engine: str, reserve: dict | None = None):
    """A callable making a lab (Lab's arguments) on the engine; the engine is checked first."""
    if engine not in ENGINES:
        raise LabError(f"--engine: expected one of {', '.join(ENGINES)}, got {engine!r}")
    if engine == "local":
        return Lab
    from mtdlab.host.swarm import SwarmLab, require_manager
    require_manager()
    return lambda *args, **kwargs: SwarmLab(*args, reservation=reserve, **kwargs)


def add_arguments(parser) -> None:
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="local: this machine's engine (default); swarm: a stack on the swarm this node manages")
    parser.add_argument("--lab-cpus", type=float, help="swarm: CPU cores reserved per lab (default 0.25; a sweep's runs 1)")
    parser.add_argument("--lab-memory-mib", type=int, help="swarm: memory reserved per lab, MiB (default 256)")
