"""What every lab container's entry point does first."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from mtdlab.contract.scenario import Scenario, ScenarioError, load_scenario


def start(role: str) -> tuple[Scenario, Path]:
    """The scenario named by MTDLAB_SCENARIO and the run folder MTDLAB_RUN_DIR; exit 2 with the
    validation error if the scenario is bad."""
    # The run folder belongs to whoever started the lab; what this root process writes there
    # must stay readable and removable by them.
    os.umask(0)
    try:
        scenario = load_scenario(os.environ.get("MTDLAB_SCENARIO", "/lab/scenario/demo.yaml"))
    except ScenarioError as exc:
        print(f"{role}: invalid scenario: {exc}", file=sys.stderr)
        raise SystemExit(2)
    return scenario, Path(os.environ.get("MTDLAB_RUN_DIR", "/lab/run"))
