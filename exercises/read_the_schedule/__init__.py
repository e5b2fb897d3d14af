"""Read the schedule: from your own scans, name each service's interval law and estimate its mean
interval. Right when the law is right and the mean within TOLERANCE of the truth log's."""
from mtdlab.classroom.checking import ACCEPTED, MALFORMED, UNAVAILABLE, WRONG, Context, Exercise, Verdict, refuse

POINTS = 20
TOLERANCE = 0.25            # relative error of the mean interval allowed
LAWS = {"fixed", "uniform", "exponential", "keyed", "never"}


class ReadTheSchedule(Exercise):
    name = "read-the-schedule"
    title = "Read the schedule"
    answer_format = "SERVICE LAW MEAN_SECONDS, e.g. web uniform 45"
    max_tries = 3

    def check(self, answer: str, ctx: Context) -> Verdict:
        parts = answer.split()
        if len(parts) != 3 or parts[1].lower() not in LAWS:
            return refuse(MALFORMED, f"expected SERVICE LAW MEAN_SECONDS with LAW one of {', '.join(sorted(LAWS))}")
        service, law, mean_text = parts[0], parts[1].lower(), parts[2].removesuffix("s")
        try:
            mean = float(mean_text)
        except ValueError:
            return refuse(MALFORMED, f"the mean must be a number of seconds, got {parts[2]!r}")
        policy = ctx.truth.services.get(service)
        if policy is None:
            return refuse(UNAVAILABLE, f"your lab has no service {service!r}")
        true_law = policy.law.get("law")
        true_mean = policy.mean_interval_s
        if law != true_law:
            return Verdict(0, WRONG, f"not the law and mean of {service}", key=f"schedule:{service}")
        if true_mean is not None and abs(mean - true_mean) > TOLERANCE * true_mean:
            return Verdict(0, WRONG, f"not the law and mean of {service}", key=f"schedule:{service}")
        return Verdict(POINTS, ACCEPTED, f"{service}: {law}, mean {true_mean} s", key=f"schedule:{service}")


EXERCISE = ReadTheSchedule()
