"""What the attacker may know of a scenario: everything but the seed.

The seed fixes every random hop interval and port of the run, so whoever holds it can compute
the schedule; the attacker (a student, in a class) must measure it instead. The controller
writes this view into a volume only it and the attacker mount; the scenario file itself is
mounted into no container the attacker can reach.
"""
from __future__ import annotations

import yaml

HIDDEN_SEED = 0


class _NoAliases(yaml.SafeDumper):
    # The lab's reader refuses anchors and aliases; never write one.
    def ignore_aliases(self, data) -> bool:
        return True


def attacker_view(source: str) -> str:
    """The scenario text with its seed replaced; source must already have passed validation."""
    return with_seed(source, HIDDEN_SEED, "The attacker's view of this run's scenario, written by the controller: "
                                          "the seed is\n# withheld (the schedule is what the attacker must find out).")


def with_seed(source: str, seed: int, header: str) -> str:
    """A validated scenario's text with another seed (a class gives each team its own schedule)."""
    data = yaml.safe_load(source)
    data["seed"] = seed
    return f"# {header}\n" + yaml.dump(data, Dumper=_NoAliases, sort_keys=False, allow_unicode=False)
