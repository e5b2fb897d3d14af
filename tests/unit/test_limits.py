"""Limits stated once (mtdlab.contract.limits): docs show the table, and what validates is never refused at
run time by the runner or an in-lab program."""
import math
from pathlib import Path

import pytest

from attacker import flood
from mtdlab.inlab import xhop_client
from mtdlab.contract.limits import FLOOD_MARGIN_S, LIMITS, LimitError, markdown_table
from mtdlab.host.run import run_duration
from mtdlab.experiments import ScenarioError, load_scenario, parse_scenario
from services.xhop import server as xhop_server

ROOT = Path(__file__).parents[2]
SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_docs_show_the_table():
    text = (ROOT / "docs" / "scenario.md").read_text()
    shown = text.split("<!-- limits:begin -->\n")[1].split("\n<!-- limits:end -->")[0]
    assert shown == markdown_table(), "regenerate with: python3 -m mtdlab.contract.limits"


@pytest.mark.parametrize("limit", LIMITS.values(), ids=lambda limit: limit.key)
def test_every_limit_refuses_what_it_should(limit):
    assert limit.check(limit.high) is None and limit.check(limit.high * 1.0001 + 1) is not None
    assert (limit.check(limit.low) is None) == limit.low_inclusive
    for bad in (math.nan, math.inf, -math.inf, True, "1"):
        assert limit.check(bad) is not None, bad
    with pytest.raises(LimitError, match=limit.key):
        limit.require(limit.high + 1, "someone")


def consumers(scenario) -> list[str]:
    """Run a validated scenario's values through every consumer's own check; what each checked."""
    checked = []
    duration = run_duration(scenario)
    LIMITS["duration_s"].require(duration, "mtdlab run")
    checked.append("run")
    if scenario.legit:
        LIMITS["legit.rate_per_s"].require(scenario.legit.rate_per_s, "mtdlab load")
        LIMITS["duration_s"].require(duration, "mtdlab load")
        checked.append("legit")
    plan = scenario.flood
    if plan:
        for n in plan.ns:
            # As mtdlab.host.flood_run starts them: the flooder for the step plus a margin either side.
            flood.check(plan.budget_pps, plan.seconds_per_n + 2 * FLOOD_MARGIN_S, n, plan.k(n))
            xhop_client.check(n, plan.client_rate_per_s, plan.seconds_per_n)
            xhop_server.check(plan.base_port, n, plan.capacity_pps)
        checked.append("flood")
    return checked


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_scenarios_pass_every_consumer(path):
    assert "run" in consumers(load_scenario(path))


FLOOD_AT_THE_LIMITS = """name: flood-max
seed: 1
target:
  services:
    - name: web
      kind: web
      hop: {interval: {law: exponential, mean_s: 5}, pool: {ranges: ["9001-9099"]}}
flood:
  ns: [1, 128]
  budget_pps: 20000
  capacity_pps: 10000
  seconds_per_n: 120
  client_rate_per_s: 500
  base_port: 65408
"""


def test_a_scenario_at_every_limit_validates_and_runs():
    # A flood step of 120 s once validated and then made the flooder refuse (120 s + margins).
    assert consumers(parse_scenario(FLOOD_AT_THE_LIMITS)) == ["run", "flood"]
    with pytest.raises(ScenarioError, match="seconds_per_n: expected at most 120 s"):
        parse_scenario(FLOOD_AT_THE_LIMITS.replace("seconds_per_n: 120", "seconds_per_n: 121"))
