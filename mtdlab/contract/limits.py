"""Every bound on what a scenario, a command or an in-lab program may ask for, stated once.

The scenario validator, the host-side runner and the in-lab programs all check against this
table, so a file that validates is never refused at run time. docs/scenario.md shows the
table (tests/unit/test_limits.py keeps the two equal, and runs every shipped scenario's
values through each consumer's own check).
"""
from __future__ import annotations

import math
from dataclasses import dataclass


class LimitError(ValueError):
    """A value outside its limit; the message says what was expected."""


@dataclass(frozen=True)
class Limit:
    key: str                     # where it applies: a scenario key, or a program's argument
    low: float
    high: float
    unit: str
    why: str
    low_inclusive: bool = False  # False: the value must be greater than low
    whole: bool = False          # a whole number
    noun: str = ""               # said as "expected <noun> from low to high" (whole-numbered ranges)

    def check(self, value) -> str | None:
        """None when value is allowed, else what was expected (for an error message)."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return f"expected a finite number, got {value!r}"
        if self.whole and value != int(value):
            return f"expected a whole number, got {value!r}"
        if self.noun:
            if not self.low <= value <= self.high:
                return f"expected {self.noun} from {_n(self.low)} to {_n(self.high)}, got {value:g}"
        elif self.low_inclusive and value < self.low:
            return f"expected a number >= {_n(self.low)}, got {value:g}"
        elif not self.low_inclusive and value <= self.low:
            return f"expected a number > {_n(self.low)}, got {value:g}"
        elif value > self.high:
            return f"expected at most {_n(self.high)}{' ' + self.unit if self.unit else ''}, got {value:g}"
        return None

    def require(self, value, who: str) -> None:
        """For the programs: raise LimitError naming who refused and the limit."""
        problem = self.check(value)
        if problem:
            raise LimitError(f"{who}: {self.key}: {problem}")

    def describe(self) -> str:
        kind = self.noun or ("a whole number" if self.whole else "a number")
        if self.low_inclusive:
            return f"{kind} from {_n(self.low)} to {_n(self.high)} {self.unit}".rstrip()
        return f"{kind} > {_n(self.low)} and at most {_n(self.high)} {self.unit}".rstrip()


def _n(x) -> str:
    """A bound as people write it: 9223372036854775807, not 9.22337e+18."""
    return str(x) if isinstance(x, int) else f"{x:g}"


FLOOD_MARGIN_S = 4.0   # the flooder starts this much before the flood's client and stops this much after it

_TABLE = [
    Limit("seed", 0, 2**63 - 1, "", "every random draw of the run (schedules, banners) follows from it",
          low_inclusive=True, whole=True, noun="a whole number"),
    Limit("duration_s", 0, 3600, "s", "one run; the legitimate client, the attacker and every in-lab client stop by then"),
    Limit("interval_s", 0, 86400, "s", "any hop interval, slot or `choice` value"),
    Limit("hop.drain_limit_s", 0, 600, "s", "how long an old instance may finish held connections after its port "
          "closed (default 30); the proxy keeps old sessions as long", low_inclusive=True),
    Limit("keyed.grace_s", 0, 43200, "s", "below half the slot too (checked with the slot)", low_inclusive=True),
    Limit("keyed.lead_s", 0, 43200, "s", "below half the slot too (checked with the slot)"),
    Limit("port", 1024, 65535, "", "proxy ports, the SAPP gateway's port, the flood's base port", low_inclusive=True,
          whole=True, noun="a port"),
    Limit("attacker.pause_s", 0, 600, "s", "between one sweep's end and the next sweep", low_inclusive=True),
    Limit("attacker.act_delay_s", 0, 600, "s", "from a sweep's end to the follow-up connections", low_inclusive=True),
    Limit("attacker.max_sweeps", 1, 100000, "sweeps", "a bound on the attacker's loop beside its time bound",
          low_inclusive=True, whole=True, noun="a whole number"),
    Limit("sweep.repetitions", 1, 100, "runs", "runs of each point of a sweep, each with its own seed",
          low_inclusive=True, whole=True, noun="a whole number"),
    Limit("sweep.runs", 1, 1000, "runs", "points times repetitions of one sweep", low_inclusive=True, whole=True,
          noun="a whole number"),
    Limit("attacker.sample_share", 0, 1, "", "share of the attacker's ports a sampler scans each round"),
    Limit("attacker.rate_pps", 0, 10000, "probes/s", "the slow attacker's ceiling (nmap --max-rate)"),
    Limit("class.teams", 1, 30, "teams", "team labs of one class on one machine (each runs a whole lab)",
          low_inclusive=True, whole=True),
    Limit("class.flag_grace_s", 0, 600, "s", "how long a flag counts after its instance is gone", low_inclusive=True),
    Limit("legit.rate_per_s", 0, 500, "requests/s", "the legitimate client, a new connection each"),
    Limit("direct_client.rate_per_s", 0, 200, "requests/s", "keyed direct clients, all skews together"),
    Limit("sapp_client.rate_per_s", 0, 200, "connections/s", "SAPP clients, all services together"),
    Limit("flood.ns", 1, 128, "ports", "each n of the flooding experiment (at most 8 of them)", low_inclusive=True,
          whole=True, noun="a whole number"),
    Limit("flood.budget_pps", 0, 20000, "datagrams/s", "the flooder's ceiling on the lab network"),
    Limit("flood.capacity_pps", 0, 10000, "datagrams/s", "how fast the xhop service reads each port"),
    Limit("flood.seconds_per_n", 0, 120, "s", "one flood step; the flooder runs 2 x FLOOD_MARGIN_S longer"),
    Limit("flood.client_rate_per_s", 0, 500, "exchanges/s", "the flood's legitimate client"),
]
LIMITS: dict[str, Limit] = {limit.key: limit for limit in _TABLE}
# Derived, so the flooder accepts every step the validator accepts.
LIMITS["flooder_s"] = Limit("flooder_s", 0, LIMITS["flood.seconds_per_n"].high + 2 * FLOOD_MARGIN_S, "s",
                            "how long attacker.flood floods: flood.seconds_per_n plus a margin either side")


def markdown_table() -> str:
    """The table as docs/scenario.md shows it."""
    rows = ["| key | allowed | why |", "|---|---|---|"]
    rows += [f"| `{limit.key}` | {limit.describe()} | {limit.why} |" for limit in LIMITS.values()]
    return "\n".join(rows)


if __name__ == "__main__":   # python3 -m mtdlab.contract.limits: the table for docs/scenario.md
    print(markdown_table())
