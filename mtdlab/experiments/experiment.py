"""What an experiment is: the parts of the lab one measurement owns, in one module.

An experiment module defines EXPERIMENT = Experiment(...) with any of these parts:

- sections: the top-level scenario keys it owns, each with a parser (a contract Reader, or None
  when the key is absent, and the scenario read so far) returning its typed section or None;
  `check` then sees the whole scenario, to refuse combinations that cannot work;
- launch(ctx, scenario, duration): start its in-lab clients for a run (ctx: the host's
  LaunchContext, see mtdlab.host.run), returning a thread to join or None;
- steps(ctx, scenario, out, say): run its own steps instead of a fixed duration (duration()
  says how long they take);
- metrics(run, base): its part of summary.json, {key: value}, and any series its plots need,
  from the run folder (run: the analysis Run; base: the figures computed before it);
- rows(summary): (label, summary key) pairs for the report's figures table; definitions:
  (title, text) pairs; plots(run, summary, series): (title, matplotlib figure) pairs.

Module-level imports of an experiment are mtdlab.contract only: the scenario loader is built
from the sections, and it must load in a lab container (no numpy, no matplotlib there).
Analysis, plotting and in-lab helpers are imported inside the functions that need them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable


@dataclass(frozen=True)
class Experiment:
    name: str
    sections: dict[str, Callable[[Any, dict], Any]] = field(default_factory=dict)
    check: Callable[[Any, Any], None] | None = None
    launch: Callable[[Any, Any, float], Any] | None = None
    steps: Callable[[Any, Any, Any, Callable], None] | None = None
    duration: Callable[[Any], float | None] | None = None
    metrics: Callable[[Any, dict], tuple[dict, dict]] | None = None
    rows: Callable[[dict], list[tuple[str, str]]] = lambda summary: []
    definitions: tuple[tuple[str, str], ...] = ()
    plots: Callable[[Any, dict, dict], list[tuple[str, Any]]] | None = None
