"""summary.json: every figure a run reports, from the run folder's raw data alone, over every
registered experiment in order (the base first). docs/summary.md documents each key."""
from __future__ import annotations

from mtdlab.analysis.metrics import Run
from mtdlab.experiments import EXPERIMENTS


def compute(run: Run) -> tuple[dict, dict]:
    """(summary, series): summary.json's content and the series the plots draw."""
    summary: dict = {}
    series: dict = {}
    for experiment in EXPERIMENTS:
        if experiment.metrics:
            part, more = experiment.metrics(run, summary)
            summary.update(part)
            series.update(more)
    return summary, series
