"""What every lab container's entry point does first."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from mtdlab.contract.scenario import Scenario, ScenarioError
from mtdlab.contract.scope import in_scope_or_exit
from mtdlab.contract.wait import Timeout, until
from mtdlab.experiments import load_scenario

VIEW_TIMEOUT_S = 60.0   # how long the attacker waits for the controller's view of the scenario


def start(role: str) -> tuple[Scenario, Path]:
    """The scenario named by MTDLAB_SCENARIO and the run folder MTDLAB_RUN_DIR; exit 2 with the
    validation error if the scenario is bad."""
    # Files land in the host user's run folder with the host user's umask (passed by
    # `make demo` / `mtdlab run`), never world-writable.
    os.umask(int(os.environ.get("MTDLAB_UMASK") or "022", 8) | 0o002)
    path = Path(os.environ.get("MTDLAB_SCENARIO", "/lab/scenario/demo.yaml"))
    if role == "attacker":
        # The attacker reads the controller's view of the scenario (no seed), written at its start.
        try:
            until(path.exists, f"the controller's view of the scenario at {path}", VIEW_TIMEOUT_S, interval=0.2)
        except Timeout as exc:
            print(f"{role}: {exc}", file=sys.stderr)
            raise SystemExit(2)
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        print(f"{role}: invalid scenario: {exc}", file=sys.stderr)
        raise SystemExit(2)
    return scenario, Path(os.environ.get("MTDLAB_RUN_DIR", "/lab/run"))


def client_args(argv: list[str], who: str):
    """The in-lab clients' arguments SCENARIO HOST DURATION OUT, with HOST checked to be a lab
    container: (scenario, host, duration, out), or exit 3 naming why not."""
    in_scope_or_exit(argv[2], who)
    return load_scenario(argv[1]), argv[2], float(argv[3]), Path(argv[4])
