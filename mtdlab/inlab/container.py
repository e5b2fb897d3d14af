"""What every lab container's entry point does first."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from mtdlab.contract.scenario import Scenario, ScenarioError
from mtdlab.contract.scope import in_scope_or_exit
from mtdlab.experiments import load_scenario


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


def client_args(argv: list[str], who: str):
    """The in-lab clients' arguments SCENARIO HOST DURATION OUT, with HOST checked to be a lab
    container: (scenario, host, duration, out), or exit 3 naming why not."""
    in_scope_or_exit(argv[2], who)
    return load_scenario(argv[1]), argv[2], float(argv[3]), Path(argv[4])
