"""Experiments: one module per measurement, each owning its scenario section, its in-lab
launcher, its metrics and its part of the report (mtdlab.experiments.experiment says how).

EXPERIMENTS is the one registry: the scenario loader, `mtdlab run`, summary.json and
report.html iterate over it, in this order. To add an experiment: write its module (define
EXPERIMENT), add it to the list below, add its scenario files and its tests; nothing else.

Imported by analysis, inlab, reporting and host (the scenario loader below is how every part
reads a scenario). Module-level imports here and in each experiment are mtdlab.contract only,
so the loader works in a lab container; analysis and plotting are imported where used.
"""
from __future__ import annotations

from pathlib import Path

from mtdlab.contract import scenario as _scenario
from mtdlab.contract.scenario import Scenario, ScenarioError

from . import banners, base, flood, keyed, sapp
from .experiment import Experiment

__all__ = ["EXPERIMENTS", "Experiment", "Scenario", "ScenarioError", "load_scenario", "parse_scenario"]

EXPERIMENTS: list[Experiment] = [base.EXPERIMENT, keyed.EXPERIMENT, banners.EXPERIMENT, sapp.EXPERIMENT,
                                 flood.EXPERIMENT]

SECTIONS = [(key, parse) for e in EXPERIMENTS for key, parse in e.sections.items()]
CHECKS = [e.check for e in EXPERIMENTS if e.check]


def parse_scenario(text: str, file: str = "<scenario>") -> Scenario:
    """A scenario with every experiment's sections; ScenarioError (file:line: key: expected) if bad."""
    return _scenario.parse_scenario(text, file, SECTIONS, CHECKS)


def load_scenario(path: str | Path) -> Scenario:
    return _scenario.load_scenario(path, SECTIONS, CHECKS)
