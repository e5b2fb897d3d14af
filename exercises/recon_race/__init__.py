"""Recon race: submit each service's current flag. A flag counts while its instance is up and
for the class's grace period after it is gone; each flag scores once."""
from mtdlab.classroom.checking import ACCEPTED, Context, Exercise, Verdict

POINTS = 10


class ReconRace(Exercise):
    name = "recon-race"
    title = "Recon race"
    answer_format = "one flag: mtd{...}"

    def check(self, answer: str, ctx: Context) -> Verdict:
        inst, refused = ctx.flag(answer)
        if refused:
            return refused
        return Verdict(POINTS, ACCEPTED, f"the {inst.service} flag of hop {inst.hop}", key=f"flag:{inst.flag_id}")


EXERCISE = ReconRace()
