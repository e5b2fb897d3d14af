"""Defend: submit a hop policy for the web service. The class's grader (`mtdlab class grade`) runs
it in a trial lab of the team's own (its seed) against the scripted attacker, which connects again
ACT_DELAY_S after each sweep to every port it found, while legitimate users keep coming through the
proxy; the run's report decides: act-after-delay success at most ACT_SUCCESS_MAX, no failed
legitimate request, at most HOPS_PER_MIN_MAX hops a minute."""
import yaml

from mtdlab.classroom.checking import ACCEPTED, MALFORMED, PENDING, WRONG, Context, Exercise, Verdict, refuse
from mtdlab.contract.scenario import ScenarioError, parse_interval

POINTS = 40
TRIAL_S = 120                 # the trial run's length
ACT_DELAY_S = 10              # the attacker acts this long after each sweep
ACT_SUCCESS_MAX = 0.30
HOPS_PER_MIN_MAX = 10.0       # the hop budget: every hop costs container starts and proxy reloads


def policy(answer: str):
    """The interval law of an answer, or ScenarioError / ValueError saying what is wrong."""
    law = parse_interval(answer, "<your answer>")
    if law.law == "keyed":
        raise ValueError("a keyed policy needs clients holding the key; submit a random law")
    return law


class Defend(Exercise):
    name = "defend"
    title = "Defend"
    answer_format = "a hop law for web, e.g. {law: exponential, mean_s: 20}"
    max_tries = 5
    deferred = True          # judged by the grader after a trial run, not at once

    def check(self, answer: str, ctx: Context) -> Verdict:
        try:
            law = policy(answer)
        except ScenarioError as exc:
            return refuse(MALFORMED, f"not a hop law: {exc.message}")
        except ValueError as exc:
            return refuse(MALFORMED, str(exc))
        return Verdict(0, PENDING, f"queued: {law.describe()} goes against the scripted attacker for "
                                   f"{TRIAL_S} s once the grader gets to it")

    def trial(self, answer: str, seed: int) -> str:
        """The trial run's scenario (YAML text): the team's policy on web, nothing else of the answer."""
        scenario = {
            "name": "defend-trial", "description": "A team's hop policy against the scripted attacker.",
            "seed": seed, "duration_s": TRIAL_S,
            "target": {"services": [{"name": "web", "kind": "web", "proxy_port": 8080,
                                     "hop": {"interval": policy(answer).as_dict(), "pool": {"ranges": ["10000-19999"]}}}]},
            "attacker": {"ports": "10000-19999", "timing": "T4", "pause_s": 1, "version_scan": False,
                         "act_delay_s": ACT_DELAY_S},
            "legit": {"rate_per_s": 10},
        }
        return yaml.safe_dump(scenario, sort_keys=False)

    def score(self, figures: dict) -> Verdict:
        """The verdict on a trial's report figures (summary.json's)."""
        act = figures.get("act_success_rate")
        per_min = 60.0 * figures["hops"] / max(1.0, figures["duration_s"])
        said = (f"act-after-delay success {'-' if act is None else f'{act:.0%}'} (at most {ACT_SUCCESS_MAX:.0%}), "
                f"{figures['legit_failures']} of {figures['legit_requests']} legitimate requests failed (none may), "
                f"{per_min:.1f} hops a minute (at most {HOPS_PER_MIN_MAX:g})")
        held = (act is not None and act <= ACT_SUCCESS_MAX and figures["legit_failures"] == 0
                and figures["legit_requests"] > 0 and per_min <= HOPS_PER_MIN_MAX)
        return Verdict(POINTS if held else 0, ACCEPTED if held else WRONG, said, key="defend")


EXERCISE = Defend()
