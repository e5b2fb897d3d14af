"""The single-port gateway: one port hides every service (seed 000's SAPP). Name what is
behind it, and prove it by reaching each service through it: submit each service's kind with a
current flag of it (behind a gateway the instances listen on the target's loopback only, so a
flag can only have come through the gateway)."""
from mtdlab.classroom.checking import ACCEPTED, MALFORMED, WRONG, Context, Exercise, Verdict, refuse

POINTS = 20


class Gateway(Exercise):
    name = "gateway"
    title = "Behind the single port"
    answer_format = "KIND FLAG, e.g. ssh mtd{...}"
    max_tries = 5

    def fits(self, scenario) -> bool:
        return bool(scenario.sapp)

    def available(self, truth) -> str | None:
        return None if truth.sapp else "your lab has no single-port gateway"

    def check(self, answer: str, ctx: Context) -> Verdict:
        parts = answer.split()
        if len(parts) != 2:
            return refuse(MALFORMED, "expected KIND FLAG")
        inst, refused = ctx.flag(parts[1])
        if refused:
            return refused
        kind = ctx.truth.services[inst.service].kind
        if parts[0].lower() != kind:
            return Verdict(0, WRONG, "that flag's service is not of that kind", key=f"gateway:{inst.service}")
        return Verdict(POINTS, ACCEPTED, f"{inst.service} ({kind}) reached through the gateway", key=f"gateway:{inst.service}")


EXERCISE = Gateway()
