"""A sweep's sweep.json and its one-file HTML report (plots embedded as PNG; works offline).

Every point's figures come from mtdlab.research.pooled; every curve beside them from
mtdlab.analysis.theory (../shared/theory.md), on the same axes. Points that are not finished
yet are listed, not plotted. write_sweep(out) can be called at any time, during a sweep too.
"""
from __future__ import annotations

import html
import json
import math
from pathlib import Path

from mtdlab.analysis import theory
from mtdlab.contract.schedule import IntervalLaw
from mtdlab.reporting.report import png, lookup, show
from mtdlab.research.pooled import point_figures
from mtdlab.research.runner import finished

SCHEMA = "mtdlab.sweep/1"
LAW_COLOURS = {"exponential": "tab:blue", "fixed": "tab:orange", "uniform": "tab:green", "choice": "tab:purple",
               "keyed": "tab:brown", "never": "tab:grey", "mixed": "tab:red"}


def sweep_json(out: Path) -> dict:
    plan = json.loads((out / "plan.json").read_text())
    points: dict[int, dict] = {}
    for r in plan["runs"]:
        p = points.setdefault(r["point"], {"point": r["point"], "params": r["params"], "runs": [], "finished": 0})
        p["runs"].append({"id": r["id"], "seed": r["seed"], "finished": finished(out / r["id"])})
        p["finished"] += finished(out / r["id"])
    for p in points.values():
        done = [out / r["id"] for r in p["runs"] if r["finished"]]
        p["figures"] = point_figures(done) if done else None
    rows = [points[k] for k in sorted(points)]
    near = [p for p in rows if p["figures"] and p["figures"]["sweep_find"]["m"]]
    nearest = min(near, key=lambda p: abs(math.log(p["figures"]["sweep_find"]["m"]))) if near else None
    return {"schema": SCHEMA, "sweep": plan["sweep"], "base": plan["base"], "duration_s": plan["duration_s"],
            "repetitions": plan["repetitions"], "runs": len(plan["runs"]),
            "finished": sum(p["finished"] for p in rows), "points": rows,
            "nearest_m1": nearest["point"] if nearest else None}


def write_sweep(out: Path) -> dict:
    data = sweep_json(out)
    (out / "sweep.json").write_text(json.dumps(data, indent=2) + "\n")
    (out / "sweep.html").write_text(_page(data))
    return data


COLUMNS = [("runs", "figures.runs"), ("law", "figures.law"), ("T (s)", "figures.mean_interval_s"),
           ("realised T (s)", "figures.realised_mean_interval_s"),
           ("half-life (s)", "figures.decay.half_life_s"), ("95% CI", "figures.decay.half_life_ci95"),
           ("theory, pure (s)", "figures.decay.theory_half_life_pure_s"), ("pure inside", "figures.decay.pure_within_ci95"),
           ("theory, lab (s)", "figures.decay.theory_half_life_lab_s"), ("lab inside", "figures.decay.lab_within_ci95"),
           ("m = S/T", "figures.sweep_find.m"), ("found per sweep", "figures.sweep_find.found_share"),
           ("95% CI", "figures.sweep_find.found_share_ci95"), ("urn model", "figures.sweep_find.theory_found_share"),
           ("urn inside", "figures.sweep_find.theory_within_ci95"),
           ("urn, lab overlap", "figures.sweep_find.theory_found_share_lab"),
           ("lab urn inside", "figures.sweep_find.lab_within_ci95"),
           ("first discovery (s)", "figures.sweep_find.time_to_first_discovery_s"),
           ("95% CI", "figures.sweep_find.time_to_first_discovery_ci95"),
           ("theory, at the sweep's end (s)", "figures.sweep_find.theory_time_to_first_report_s"),
           ("theory.md E[W] (s)", "figures.sweep_find.theory_time_to_first_discovery_s"),
           ("D (s)", "figures.act_after_delay.delay_s"), ("act success", "figures.act_after_delay.success_rate"),
           ("95% CI", "figures.act_after_delay.success_ci95"), ("theory", "figures.act_after_delay.theory"),
           ("act inside", "figures.act_after_delay.theory_within_ci95"),
           ("legit requests", "figures.legit.requests"), ("legit failures", "figures.legit.failures"),
           ("legit p50 (ms)", "figures.legit.latency_ms_p50"), ("legit p95 (ms)", "figures.legit.latency_ms_p95")]


def _page(data: dict) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c, _ in COLUMNS)
    body = []
    for p in data["points"]:
        params = "<br>".join(f"{html.escape(k)} = {html.escape(json.dumps(v))}" for k, v in p["params"].items())
        cells = "".join(f'<td data-key="points.{p["point"]}.{k}">{html.escape(show(_get(p, k)))}</td>' for _, k in COLUMNS)
        status = "" if p["finished"] == len(p["runs"]) else f' <em>({p["finished"]}/{len(p["runs"])} runs)</em>'
        links = " ".join(f'<a href="{r["id"]}/report.html">{r["id"]}</a>' for r in p["runs"] if r["finished"])
        body.append(f"<tr><th>p{p['point']:02d}{status}<br><small>{params}</small><br><small>{links}</small></th>{cells}</tr>")
    images = _plots(data)
    plots = _pivot(data) + "".join(f"<h2>{html.escape(t)}</h2><img alt=\"{html.escape(t)}\" src=\"{src}\">"
                                   for t, src in images)
    near = data["nearest_m1"]
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>sweep {html.escape(data['sweep'])}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;font-size:12px}}
th,td{{border-bottom:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}}img{{max-width:100%}}</style>
</head><body data-images="{len(images)}"><h1>Sweep {html.escape(data['sweep'])}</h1>
<p>Base scenario <code>{html.escape(data['base'])}</code>; {data['runs']} runs ({data['finished']} finished),
{data['repetitions']} per point, {show(data['duration_s'])} s each. Each point's figures pool its runs (each run its
own stratum in the bootstrap); 95% intervals as in docs/summary.md. The point nearest m = 1:
<strong data-key="nearest_m1">{'p%02d' % near if near is not None else '-'}</strong>.</p>
<table><tr><th>point</th>{head}</tr>{''.join(body)}</table>{plots}
<h2>Definitions</h2><ul>
<li><b>half-life</b>: Kaplan-Meier half-life of "an open port a sweep reported still accepts d seconds after the sweep";
<b>pure</b> theory is theory.md section 1 for the law, averaged over when in the sweep the port was probed (section 3
with D = d: for exponential hops e^(-d/T)(1 - e^(-m))/m, half-life T ln(2(1 - e^(-m))/m), which is T ln 2 for a short
sweep and 0 once fewer than half of what a sweep reports is still open at its end); <b>lab</b> adds each run's measured
extra port life.</li>
<li><b>found per sweep</b>: share of port sweeps that reported a port the service held during the sweep, pooled over
services; <b>urn model</b>: theory.md section 2 (Carroll et al., ICC 2014) for m = S/T, S the measured sweep
duration; for a full sweep against perfect shuffling it tends to 1 - 1/e. <b>urn, lab overlap</b>: the same model
simulated with the port a service leaves staying open for the lab's measured extra port life (make-before-break):
for a moment the service is on two ports, so a sweep finds it more often than theory.md's model says.</li>
<li><b>first discovery</b>: from a sweep's start to the end of the first sweep that found the service (nmap tells
the attacker at the sweep's end); theory S + C(1/p - 1) for sweeps of S seconds starting C apart, each finding the
service with the lab urn model's p; theory.md's E[W] (exponential: S/(1 - e^(-S/T)) - T) counts to the probe's own
moment and assumes sweeps back to back: shown beside it, not compared.</li>
<li><b>act success</b>: a follow-up connection D seconds after a sweep reached the service it found (theory.md section 3).</li>
<li><b>legit</b>: the legitimate client through the proxy, a new connection each; latency medians over runs.</li>
</ul>
<script>
// Marks how many plots the browser decoded, so an automatic check can tell they loaded.
window.addEventListener("load", () => {{
  const ok = [...document.images].filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = ok;
}});
</script></body></html>
"""


def _pivot(data: dict) -> str:
    """Act-after-delay success by the first two varied values: rows the second, columns the first."""
    params = [p["params"] for p in data["points"]]
    varied = [k for k in (params[0] if params else {}) if len({json.dumps(x[k]) for x in params}) > 1]
    if len(varied) < 2:
        return ""
    cols_key, rows_key = varied[0], varied[1]
    cols = list(dict.fromkeys(json.dumps(x[cols_key]) for x in params))
    rows = list(dict.fromkeys(json.dumps(x[rows_key]) for x in params))
    cell = {}
    for p in data["points"]:
        a = (p["figures"] or {}).get("act_after_delay") or {}
        text = f"{show(a.get('success_rate'))} {show(a.get('success_ci95'))}" if a.get("success_rate") is not None else "-"
        th = f"<br><small>theory {show(a.get('theory'))}</small>" if a.get("theory") is not None else ""
        cell[(json.dumps(p["params"][rows_key]), json.dumps(p["params"][cols_key]))] = (p["point"], text + th)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        f"<tr><th>{html.escape(r)}</th>" + "".join(
            f'<td data-key="points.{cell[(r, c)][0]}.figures.act_after_delay.success_rate">{cell[(r, c)][1]}</td>'
            if (r, c) in cell else "<td></td>" for c in cols) + "</tr>" for r in rows)
    return (f"<h2>Act-after-delay success by {html.escape(rows_key)} (rows) and {html.escape(cols_key)} "
            f"(columns)</h2><p>Success [95% interval], theory.md section 3 below each.</p>"
            f"<table><tr><th></th>{head}</tr>{body}</table>")


def _get(p: dict, key: str):
    try:
        return lookup(p, key)
    except (KeyError, IndexError, TypeError):
        return None


def _plots(data: dict) -> list[tuple[str, str]]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pts = [p for p in data["points"] if p["figures"]]
    if not pts:
        return []
    out = []
    by_law: dict[str, list] = {}
    for p in pts:
        by_law.setdefault(p["figures"]["law"], []).append(p)

    def errbar(ax, xs, ys, cis, **kw):
        lo = [y - c[0] if None not in (y, c[0]) else 0 for y, c in zip(ys, cis)]
        hi = [c[1] - y if None not in (y, c[1]) else 0 for y, c in zip(ys, cis)]
        keep = [i for i, (x, y) in enumerate(zip(xs, ys)) if x is not None and y is not None and math.isfinite(y)]
        if keep:
            ax.errorbar([xs[i] for i in keep], [ys[i] for i in keep], yerr=[[lo[i] for i in keep], [hi[i] for i in keep]],
                        fmt="o", capsize=4, **kw)

    # 1. half-life against the hop mean, per law, with theory.md section 1
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for law, ps in by_law.items():
        xs = [p["figures"]["mean_interval_s"] for p in ps]
        errbar(ax, xs, [p["figures"]["decay"]["half_life_s"] for p in ps],
               [p["figures"]["decay"]["half_life_ci95"] for p in ps], color=LAW_COLOURS.get(law), label=f"measured, {law}")
        ts = sorted(x for x in xs if x)
        if ts and law in ("exponential", "fixed"):
            grid = [ts[0] * (ts[-1] / ts[0]) ** (i / 100) for i in range(101)] if ts[-1] > ts[0] else ts
            ax.plot(grid, [theory.half_life(_law(law, t)) for t in grid], color=LAW_COLOURS.get(law), lw=1, ls=":",
                    label=f"theory.md section 1 (a sweep of no duration), {law}")
        for key, mark, what in (("theory_half_life_pure_s", "x", "theory.md over the measured sweep"),
                                ("theory_half_life_lab_s", "+", "lab theory (measured port overlap)")):
            pairs = [(x, p["figures"]["decay"][key]) for x, p in zip(xs, ps)
                     if x and p["figures"]["decay"][key] and p["figures"]["decay"][key] > 0]   # log axes: 0 not drawn
            if pairs:
                ax.plot(*zip(*pairs), mark, ms=9, color=LAW_COLOURS.get(law), label=f"{what}, {law}")
    ax.set(xlabel="hop mean T (s)", ylabel="half-life (s)", xscale="log", yscale="log")
    ax.legend()
    out.append(("Half-life against the hop mean", png(fig)))

    # 2. per-sweep probability of finding a service against m = S/T, the urn model and 1 - 1/e
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for law, ps in by_law.items():
        xs = [p["figures"]["sweep_find"]["m"] for p in ps]
        errbar(ax, xs, [p["figures"]["sweep_find"]["found_share"] for p in ps],
               [p["figures"]["sweep_find"]["found_share_ci95"] for p in ps], color=LAW_COLOURS.get(law),
               label=f"measured, {law}")
        ax.plot(xs, [p["figures"]["sweep_find"].get("theory_found_share_lab") for p in ps], "x",
                color=LAW_COLOURS.get(law), label=f"urn model with the lab's measured port overlap, {law}")
    ms = [p["figures"]["sweep_find"]["m"] for p in pts if p["figures"]["sweep_find"]["m"]]
    low, top = min(ms + [0.05]) / 1.5, max(ms + [2.0]) * 1.5       # m spans decades: a log axis
    grid = [low * (top / low) ** (i / 200) for i in range(201)]
    ax.plot(grid, [theory.urn_find(IntervalLaw("exponential", mean_s=1.0), m) for m in grid], color="tab:blue", lw=1,
            label="urn model, exponential")
    fm = [m for m in grid if m <= 1]
    ax.plot(fm, [theory.urn_find(IntervalLaw("fixed", period_s=1.0), m) for m in fm], color="tab:orange", lw=1,
            label="urn model, fixed (m <= 1)")
    ax.axhline(theory.ONE_MINUS_1_OVER_E, color="black", ls="--", lw=1, label="1 - 1/e (perfect shuffling)")
    ax.axhline(1.0, color="grey", ls=":", lw=1, label="static target")
    ax.axvline(1.0, color="grey", lw=0.5)
    ax.set(xlabel="m = S/T (hops per sweep)", ylabel="P(a sweep finds the service)", ylim=(0.5, 1.02), xscale="log")
    ax.legend(loc="lower left")
    out.append(("Finding a service in one sweep, against m = S/T", png(fig)))

    # 3. time to first discovery against T
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for law, ps in by_law.items():
        xs = [p["figures"]["mean_interval_s"] for p in ps]
        errbar(ax, xs, [p["figures"]["sweep_find"]["time_to_first_discovery_s"] for p in ps],
               [p["figures"]["sweep_find"]["time_to_first_discovery_ci95"] for p in ps], color=LAW_COLOURS.get(law),
               label=f"measured, {law}")
        ax.plot(xs, [p["figures"]["sweep_find"]["theory_time_to_first_report_s"] for p in ps], "x",
                color=LAW_COLOURS.get(law), label=f"theory, known at the sweep's end: S + C(1/p - 1), {law}")
        ax.plot(xs, [p["figures"]["sweep_find"]["theory_time_to_first_discovery_s"] for p in ps], "+",
                color=LAW_COLOURS.get(law), label=f"theory.md E[W] (the probe's moment), {law}")
    ax.set(xlabel="hop mean T (s)", ylabel="time to first discovery (s)", xscale="log")
    ax.legend()
    out.append(("Time to first discovery against the hop mean", png(fig)))

    # 4. act-after-delay success: against D when D varies, else against T
    ds = {p["figures"]["act_after_delay"]["delay_s"] for p in pts}
    key, label = ("delay_s", "delay D (s)") if len(ds) > 1 else ("T", "hop mean T (s)")
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for law, ps in by_law.items():
        xs = [p["figures"]["act_after_delay"]["delay_s"] if key == "delay_s" else p["figures"]["mean_interval_s"] for p in ps]
        errbar(ax, xs, [p["figures"]["act_after_delay"]["success_rate"] for p in ps],
               [p["figures"]["act_after_delay"]["success_ci95"] for p in ps], color=LAW_COLOURS.get(law),
               label=f"measured, {law}")
        ax.plot(xs, [p["figures"]["act_after_delay"]["theory"] for p in ps], "x", color=LAW_COLOURS.get(law),
                label=f"theory.md section 3, {law}")
    ax.set(xlabel=label, ylabel="act-after-delay success", ylim=(-0.02, 1.02), xscale="log" if key == "T" else "linear")
    ax.legend()
    out.append(("Scan, then act after a delay", png(fig)))

    # 5. the trade-off: what the attacker still gets against what legitimate users pay
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for p in pts:
        f = p["figures"]
        y = f["act_after_delay"]["success_rate"]
        x = f["legit"]["latency_ms_p95"]
        if x is None or y is None:
            continue
        fails = f["legit"]["failure_rate"] or 0.0
        ax.scatter([x], [y], s=60 + 4000 * fails, color=LAW_COLOURS.get(f["law"]), alpha=0.7)
        ax.annotate(f"p{p['point']:02d} T={show(f['mean_interval_s'])}s, {f['legit']['failures']} failed",
                    (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set(xlabel="legitimate latency p95 (ms), through the proxy", ylabel="attacker's act-after-delay success",
           title="security gain against legitimate cost (marker area grows with legit failures)")
    out.append(("Trade-off: attacker success against legitimate cost", png(fig)))
    return out


def _law(law: str, t: float) -> IntervalLaw:
    return IntervalLaw("exponential", mean_s=t) if law == "exponential" else IntervalLaw("fixed", period_s=t)
