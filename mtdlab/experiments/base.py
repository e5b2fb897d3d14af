"""The plain decay run, the base every scenario runs: services hop, the attacker sweeps, a
legitimate client uses the proxy; reconnaissance decay, sweeps, discovery, scan-then-act,
service identification, legitimate users and hop latency are measured.

Owns the scenario's `legit` section and its in-lab launcher (mtdlab.inlab.legit), the base
figures of summary.json, and the base rows, definitions and plots of the report. (The core
scenario, services and attacker, is the contract's: mtdlab.contract.scenario.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from mtdlab.contract.reader import Reader
from mtdlab.contract.stats import rounded as _r

from .experiment import Experiment

SCHEMA = "mtdlab.summary/1"


@dataclass(frozen=True)
class LegitLoad:
    rate_per_s: float


def parse(r: Optional[Reader], so_far: dict) -> Optional[LegitLoad]:
    if r is None:
        return None
    r.only("rate_per_s")
    return LegitLoad(r.bounded("rate_per_s", "legit.rate_per_s", required=True))


def launch(ctx, scenario, duration: float):
    """The legitimate client, against the web service's fixed proxy port."""
    web = next((s for s in scenario.services if s.kind == "web"), None)
    if scenario.legit is None or web is None:
        return None
    return ctx.in_lab("legit", ["python3", "-m", "mtdlab.inlab.legit", f"http://{ctx.ip('proxy')}:{web.proxy_port}/",
                                str(scenario.legit.rate_per_s), str(duration), "/lab/run/legit.jsonl"])


def problem_line(text: str) -> str:
    """A failed part's note (NAME.error) in one line: its first line says what happened, or, for
    a Python traceback, its last line does."""
    lines = [line.strip() for line in text.splitlines() if line.strip()] or ["(no output)"]
    return (lines[-1] if lines[0].startswith("Traceback") else lines[0])[:300]


def metrics(run, base: dict) -> tuple[dict, dict]:
    from mtdlab.analysis.decay import decay, extra_life
    from mtdlab.analysis.hoplatency import phase_summary, schedule_summary
    from mtdlab.analysis.metrics import act_after_delay, discovery, service_identification, sweep_find, sweeps
    from mtdlab.contract.clientlog import summarize

    extra = extra_life(run.truth)
    decay_summary, decay_series = decay(run, extra)
    sweep_stats = sweeps(run)
    phases = phase_summary(run.truth.events)
    legit = summarize(run.legit) if run.legit else {"requests": 0, "failures": 0, "success_rate": None,
                                                    "latency_ms": {"n": 0, "p50": None, "p95": None, "p99": None}}
    started = next((e for e in run.truth.events if e["event"] == "controller.started"), {})
    summary = {
        "schema": SCHEMA,
        "scenario": run.scenario.name,
        "seed": run.scenario.seed,
        "duration_s": _r(run.truth.end - run.truth.start),
        "hops": sum(run.truth.hops.values()),
        "hops_by_service": dict(sorted(run.truth.hops.items())),
        "policies": started.get("services", {}),
        "hop_latency_s": {"p50": phases["total"]["p50"], "p95": phases["total"]["p95"], "phases": phases},
        "schedule": schedule_summary(run.truth.events),
        "legit": {k: legit[k] for k in ("requests", "failures", "success_rate", "latency_ms")},
        "problems": [{"part": part, "error": problem_line(text)} for part, text in run.problems.items()],
        "decay": decay_summary,
        "sweeps": sweep_stats,
        "discovery": discovery(run, sweep_stats),
        "sweep_find": sweep_find(run, sweep_stats),
        "act_after_delay": act_after_delay(run, sweep_stats),
        "service_id_accuracy": service_identification(run),
    }
    return summary, {"decay": decay_series}


def rows(summary: dict) -> list[tuple[str, str]]:
    rows = [("Duration (s)", "duration_s"), ("Hops", "hops"),
            ("Hop latency p50 (s)", "hop_latency_s.p50"), ("Hop latency p95 (s)", "hop_latency_s.p95"),
            ("Switch - schedule p50 (s), hops begun ahead", "schedule.begun_ahead.p50"),
            ("Switch - schedule p95 (s), hops begun ahead", "schedule.begun_ahead.p95"),
            ("Legitimate requests", "legit.requests"), ("Legitimate failures", "legit.failures"),
            ("Legitimate success rate", "legit.success_rate"),
            ("Legit latency p50 (ms)", "legit.latency_ms.p50"), ("Legit latency p95 (ms)", "legit.latency_ms.p95"),
            ("Legit latency p99 (ms)", "legit.latency_ms.p99"),
            ("Decay observations", "decay.observations"), ("Decay placements", "decay.placements"),
            ("Decay half-life (s)", "decay.half_life_s"),
            ("Half-life 95% CI low (s)", "decay.half_life_ci95.0"), ("Half-life 95% CI high (s)", "decay.half_life_ci95.1"),
            ("Half-life naive CI low (s)", "decay.half_life_ci95_naive.0"),
            ("Half-life naive CI high (s)", "decay.half_life_ci95_naive.1"),
            ("Theory half-life, lab (s)", "decay.theory_half_life_s"),
            ("Theory half-life, pure (s)", "decay.theory_half_life_pure_s"),
            ("Theory half-life, realised schedule (s)", "decay.theory_half_life_realised_s"),
            ("Extra port life over the schedule (s)", "decay.extra_life_s"), ("Theory within measured 95% CI", "decay.theory_within_ci95"),
            ("Realised-schedule theory within measured 95% CI", "decay.realised_within_ci95"),
            ("Sweeps", "sweeps.count"), ("Sweep precision", "sweeps.precision"), ("Sweep recall", "sweeps.recall"),
            ("Sweeps unexplained", "sweeps.unexplained"), ("Sweep duration (s)", "sweeps.sweep_s"),
            ("Sweep cycle (s)", "sweeps.cycle_s"),
            ("Act after delay D (s)", "act_after_delay.delay_s"), ("Act attempts", "act_after_delay.attempts"),
            ("Act success rate", "act_after_delay.success_rate"),
            ("Act success 95% CI low", "act_after_delay.success_ci95.0"),
            ("Act success 95% CI high", "act_after_delay.success_ci95.1"),
            ("Act success, theory", "act_after_delay.theory"),
            ("Act success, realised-schedule theory", "act_after_delay.theory_realised"),
            ("Service identification accuracy", "service_id_accuracy")]
    for svc in summary["discovery"]:
        rows += [(f"{svc}: placements discovered", f"discovery.{svc}.discovered_share"),
                 (f"{svc}: discovered, 95% CI low", f"discovery.{svc}.discovered_share_ci95.0"),
                 (f"{svc}: discovered, 95% CI high", f"discovery.{svc}.discovered_share_ci95.1"),
                 (f"{svc}: discovered, theory", f"discovery.{svc}.theory_discovered_share"),
                 (f"{svc}: discovered, realised-schedule theory", f"discovery.{svc}.theory_discovered_share_realised"),
                 (f"{svc}: mean time to discovery (s)", f"discovery.{svc}.mean_time_to_discovery_s")]
    for svc in summary["sweep_find"]:
        rows += [(f"{svc}: hops per sweep m = S/T", f"sweep_find.{svc}.m"),
                 (f"{svc}: sweeps that found it", f"sweep_find.{svc}.found_share"),
                 (f"{svc}: found per sweep, 95% CI low", f"sweep_find.{svc}.found_share_ci95.0"),
                 (f"{svc}: found per sweep, 95% CI high", f"sweep_find.{svc}.found_share_ci95.1"),
                 (f"{svc}: found per sweep, urn-model theory", f"sweep_find.{svc}.theory_found_share"),
                 (f"{svc}: time to first discovery (s)", f"sweep_find.{svc}.time_to_first_discovery_s"),
                 (f"{svc}: time to first discovery, theory at the sweep's end (s)", f"sweep_find.{svc}.theory_time_to_first_report_s"),
                 (f"{svc}: time to first discovery, theory.md E[W] (s)", f"sweep_find.{svc}.theory_time_to_first_discovery_s")]
    return rows


def plots(run, summary: dict, series: dict) -> list:
    """The port timeline, the decay curve against theory, availability, hop latency per phase."""
    import matplotlib.pyplot as plt

    t0 = run.truth.start
    out = []
    services = [s.name for s in run.scenario.services]
    fig, axes = plt.subplots(len(services), 1, figsize=(10, 2.4 * len(services)), squeeze=False, sharex=True)
    sweeps = run.sweeps()
    for ax, svc in zip(axes[:, 0], services):
        first = True
        for p in run.truth.by_service(svc):
            if p.ready is None:
                continue
            end = (p.closing if p.closing is not None else run.truth.end) - t0
            ax.hlines(p.port, p.ready - t0, end, colors="tab:blue", lw=3, label="truth: port open" if first else None)
            first = False
        ports = {p.port for p in run.truth.by_service(svc)}
        xs = [(s["end_mono"] - t0, port) for s in sweeps for port in s["open"] if port in ports]
        if xs:
            ax.plot(*zip(*xs), "o", color="tab:red", ms=4, label="attacker saw open")
        ax.set_ylabel(f"{svc}\nport")
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("seconds since the controller started")
    fig.suptitle("Port timeline: truth (lines) and the attacker's sweeps (dots)")
    out.append(("Port timeline per service", fig))

    d = summary["decay"]
    fig, ax = plt.subplots(figsize=(8, 4))
    km = series["decay"]["km"]
    if len(km) > 1:
        ax.step([x for x, _ in km], [y for _, y in km], where="post", color="tab:red", label="measured S(d) (Kaplan-Meier)")
    ax.plot(series["decay"]["grid"], series["decay"]["theory"], color="tab:blue", label="theory, lab (port life = interval + extra)")
    ax.plot(series["decay"]["grid"], series["decay"]["theory_pure"], "--", color="tab:gray", label="theory, pure interval law")
    ax.plot(series["decay"]["grid"], series["decay"]["theory_realised"], ":", color="tab:green",
            label="theory, realised schedule (this run's port lives)")
    ax.axhline(0.5, color="k", lw=0.5)
    if d["half_life_s"] is not None and None not in d["half_life_ci95"]:
        ax.axvspan(*d["half_life_ci95"], color="tab:red", alpha=0.15, label="measured half-life, 95% CI")
    ax.set_xlabel("d: seconds after the sweep ended")
    ax.set_ylabel("P(observation still true)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8)
    ax.set_title(f"Reconnaissance decay ({d['observations']} observations of {d['placements']} placements)")
    out.append(("Reconnaissance decay against theory", fig))

    if run.legit:
        fig, ax = plt.subplots(figsize=(10, 3))
        start = run.legit[0]["mono"]
        buckets: dict[int, list[bool]] = {}
        for r in run.legit:
            buckets.setdefault(int(r["mono"] - start), []).append(r["ok"])
        xs = sorted(buckets)
        ax.plot(xs, [sum(buckets[x]) / len(buckets[x]) for x in xs], color="tab:green", label="success rate per second")
        for e in run.truth.events:
            if e["event"] == "hop.proxy_switched" and e["hop"] >= 1:
                ax.axvline(e["mono"] - start, color="tab:gray", lw=0.3)
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel("seconds since the legitimate client started (grey: a hop switched the proxy)")
        ax.set_ylabel("success")
        ax.set_title(f"Availability through the proxy: {summary['legit']['requests']} requests, "
                     f"{summary['legit']['failures']} failed")
        out.append(("Availability for legitimate users", fig))

    phases = summary["hop_latency_s"]["phases"]
    names = [n for n in phases if phases[n]["n"]]
    if names:
        fig, ax = plt.subplots(figsize=(8, 3.2))
        ax.barh(names, [phases[n]["p95"] for n in names], color="tab:orange", alpha=0.5, label="p95")
        ax.barh(names, [phases[n]["p50"] for n in names], color="tab:orange", label="median")
        ax.set_xlabel("seconds")
        ax.invert_yaxis()
        ax.legend(fontsize=8)
        ax.set_title(f"Hop latency per phase ({phases['total']['n']} hops)")
        out.append(("Hop latency", fig))
    return out


EXPERIMENT = Experiment(
    name="base",
    sections={"legit": parse},
    launch=launch,
    metrics=metrics,
    rows=rows,
    definitions=(
        ("Reconnaissance decay", "For every open port a sweep reported: how long, after the sweep ended, that port went on "
         "accepting connections (truth log: until its instance exited). S(d) is the Kaplan-Meier survival "
         "curve of these times (ports still open when the run ended are censored); the half-life is the first d with "
         "S(d) <= 1/2. Per service, and pooled over all services."),
        ("95% intervals", "A placement (one port occupancy) seen by several sweeps is one draw of the schedule, not several: "
         "its sightings differ only by the time between sweeps. So the interval resamples placements, in blocks of 3 "
         "consecutive placements of a service (a circular block bootstrap: with regular hops and regular sweeps, where one "
         "placement's sightings fall sets where the next one's do), 1000 replicates, read off as BCa (bias-corrected and "
         "accelerated) widened for the number of blocks (sqrt(k/(k-1)) t(k-1) in place of z). 'Placements' is how many "
         "independent draws stand behind the figure. The 'naive' interval resamples single observations, as reports did "
         "before: it is far too narrow when each placement is seen often. A simulation of the model "
         "(`mtdlab coverage`) checks that the new interval covers the true value in about 95% of runs. The same "
         "resampling gives the intervals of the act-after-delay success and of each service's discovered share."),
        ("Theory", "Two theories, said apart. The law's: theory.md section 1 for each service's interval law ('pure'), and "
         "the 'lab' one that also counts what the lab adds to every port's life: a port accepts from its instance's start, "
         "just after a hop decision, until that instance is gone, just after the next one (drained, stopped), so it lives "
         "L = I + extra (extra measured per service from the truth log), and a random observation sees the length-biased "
         "residual of L: S(d) = T S_I(d - extra) / (T + extra), and (T + extra - d) / (T + extra) for d < extra. A typical "
         "run has the lab theory inside its interval about 95% of the time. The realised schedule's: the port lives this "
         "run actually had (truth log), S(d) = sum (L_i - d)+ / sum L_i. It lies inside the interval at least as often "
         "(nearly always when intervals vary): if only the law's theory is outside, this run drew unusual intervals; if "
         "the realised one is outside too, look at the measurement. "
         "Pooled figures use the mixture of the services' curves weighted by their observations."),
        ("Sweep precision / recall", "Per port sweep, against the ports open by the truth log at the sweep's end: "
         "precision = reported and true / reported, recall = reported and true / true; averaged over sweeps. "
         "'Unexplained' counts sweeps whose differences a hop during the sweep cannot explain."),
        ("Time to first discovery", "Per placement (one port occupancy): found if some sweep reported its port while it "
         "was open; the time from the instance becoming ready to the end of the first such sweep. Theory: a placement that "
         "lives L seconds is found unless it falls between two sweep ends, with probability 1 - E[(G - L)+]/E[G] for "
         "the measured gaps G between sweep ends (min(1, L/C) when every gap is C), for the law's lives and for the "
         "lives this run's placements had."),
        ("Scan, then act", "D seconds after a sweep ends the attacker connects to each port it found; a success is a "
         "connection that reached the same service the port held at discovery (truth log). Theory: theory.md section 3, "
         "(1/S) integral_0^S S(D + u) du with S the sweep duration, for the law (lab) and for the realised schedule, "
         "mixed over services by their share of the attempts."),
        ("Service identification", "Share of version-scan (nmap -sV) results on open ports that name the service the "
         "truth log says held the port."),
        ("Legitimate users", "Requests through the proxy's fixed port, a new connection each; a failure is anything but "
         "HTTP 200. Latency percentiles over successful requests."),
        ("Hop latency", "From the truth log, per completed hop: decision to hop done, and each phase."),
    ),
    plots=plots,
)
