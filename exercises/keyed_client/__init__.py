"""Keyed client: with your team's keyed key, compute the keyed service's port for each slot
(seed 001) and connect to it directly, without the proxy, collecting the flag of every slot's
instance. Right when the flags cover at least COVERAGE of the slots of some WINDOW_S window."""
import math

from mtdlab.classroom.checking import ACCEPTED, FOREIGN, UNAVAILABLE, WRONG, Context, Exercise, Verdict, refuse

POINTS = 50
WINDOW_S = 300
COVERAGE = 0.95


def keyed_services(truth) -> list[str]:
    return sorted(name for name, p in truth.services.items() if p.law.get("law") == "keyed")


class KeyedClient(Exercise):
    name = "keyed-client"
    title = "Keyed client"
    answer_format = "every flag you collected, separated by spaces or new lines"

    def fits(self, scenario) -> bool:
        return any(s.hop.interval.law == "keyed" for s in scenario.services)

    def available(self, truth) -> str | None:
        return None if keyed_services(truth) else "your lab has no keyed service"

    def check(self, answer: str, ctx: Context) -> Verdict:
        services = keyed_services(ctx.truth)
        if not services:
            return refuse(UNAVAILABLE, "your lab has no keyed service")
        got = {}
        for text in answer.split():
            inst, refused = ctx.flag(text, at_submission=False)   # collected over minutes, submitted after
            if refused and refused.reason == FOREIGN:
                return refused
            if inst and inst.service in services:
                got[(inst.service, inst.hop)] = inst
        best = 0.0       # the best coverage of a finished window, for the team's feedback
        for service in services:
            # One slot per hop (a start retried within its slot serves the same flag).
            slots = sorted({i.hop: i for i in ctx.truth.of_service(service) if i.flag_id}.values(), key=lambda i: i.started)
            expected = WINDOW_S / float(ctx.truth.services[service].law.get("period_s") or 10)   # the slot (as_dict)
            for first in slots:
                end = first.started + WINDOW_S
                if end > ctx.now:
                    break                       # a window must have ended to be judged
                window = [i for i in slots if first.started <= i.started < end]
                if len(window) < 0.9 * expected:
                    continue                    # the lab was not up for the whole window
                have = sum((service, i.hop) in got for i in window)
                best = max(best, have / len(window))
                if have >= math.ceil(COVERAGE * len(window)):
                    return Verdict(POINTS, ACCEPTED, f"{service}: {have} of the {len(window)} slots of a "
                                                     f"{WINDOW_S} s window", key=f"keyed:{service}")
        return Verdict(0, WRONG, f"your flags cover at best {best:.0%} of the slots of a finished {WINDOW_S} s window; "
                                 f"{COVERAGE:.0%} are needed")


EXERCISE = KeyedClient()
