"""How a submission is judged: the context a checker sees, the verdict it gives, and the one
flag check every flag-taking exercise shares.

A verdict's `key` names what a right answer earns once (a flag, a service's schedule): the
board scores the first accepted submission of a key and logs later ones as replayed.
"""
from __future__ import annotations

from dataclasses import dataclass

from mtdlab.contract import flags
from mtdlab.classroom.truth import Instance, TeamTruth

ACCEPTED = "accepted"
# Why a submission scores nothing (the board logs it with the reason):
WRONG, MALFORMED, FOREIGN, EXPIRED, REPLAYED, UNAVAILABLE, NO_TRIES = (
    "wrong", "malformed", "foreign-team", "expired", "replayed", "not-available", "no-tries-left")
PENDING = "pending"      # a deferred exercise's answer, waiting for the class's grader


@dataclass(frozen=True)
class Verdict:
    points: int
    reason: str            # ACCEPTED or why not
    detail: str            # one sentence for the team
    key: str | None = None

    @property
    def accepted(self) -> bool:
        return self.reason == ACCEPTED


def refuse(reason: str, detail: str) -> Verdict:
    return Verdict(0, reason, detail)


@dataclass
class Context:
    team: str
    now: float                       # wall clock of the submission
    truth: TeamTruth                 # the team's own lab
    others: dict[str, TeamTruth]     # every other team's, to recognise their flags
    team_key: bytes                  # the team's flag key (flags are recomputed, not just looked up)
    grace_s: float                   # how long a flag counts after its instance is gone

    def flag(self, text: str, at_submission: bool = True) -> tuple[Instance | None, Verdict | None]:
        """The team's instance that served flag `text`, or why it does not count. With
        at_submission, the instance must be up now or gone less than grace_s ago."""
        text = text.strip()
        if not flags.is_flag(text):
            return None, refuse(MALFORMED, "that is not a flag (flags look like mtd{24 hex digits})")
        fid = flags.flag_id(text)
        inst = self.truth.by_flag.get(fid)
        if inst is None:
            if any(fid in other.by_flag for other in self.others.values()):
                return None, refuse(FOREIGN, "that flag is another team's")
            return None, refuse(WRONG, "no instance of your lab served that flag")
        if not flags.same(flags.flag(self.team_key, inst.service, inst.hop), text):
            return None, refuse(WRONG, "no instance of your lab served that flag")
        if at_submission and inst.ended is not None and self.now > inst.ended + self.grace_s:
            return None, refuse(EXPIRED, f"that {inst.service} instance went {self.now - inst.ended:.0f} s ago "
                                         f"(flags count for {self.grace_s:g} s after their hop)")
        return inst, None


class Exercise:
    """One exercise: its folder under exercises/ holds the student sheet and instructor notes.
    A subclass says what an answer looks like and checks one."""
    name = ""                 # how class files and the form name it
    title = ""
    answer_format = ""        # shown on the form
    max_tries: int | None = None   # wrong answers allowed per verdict key (a guessable answer needs a bound)
    deferred = False               # True: check() only validates; the grader's trial decides (score())

    def fits(self, scenario) -> bool:
        """Whether a lab of this scenario (mtdlab.contract.scenario.Scenario) can be used for it."""
        return True

    def available(self, truth: TeamTruth) -> str | None:
        """None if the team's lab can be used for this exercise, else why not."""
        return None

    def check(self, answer: str, ctx: Context) -> Verdict:
        raise NotImplementedError
