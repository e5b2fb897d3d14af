"""The run report: one self-contained HTML file (plots embedded as PNG), readable offline.

write_report(run_dir) computes the metrics from the raw data alone, writes summary.json and
report.html, and returns the summary. `mtdlab report DIR` calls it again at any time.
Every figure shown carries data-key="<path in summary.json>", so a test can hold the page
to the file.
"""
from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

from mtdlab.analysis.metrics import Run, compute

DEFINITIONS = [
    ("Reconnaissance decay", "For every open port a sweep reported: how long, after the sweep ended, that port went on "
     "accepting connections (truth log: until its instance was stopped and removed). S(d) is the Kaplan-Meier survival "
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
    ("Banner modes", "Seed 000: static (true port, true banner), static-random (true port, replacement banner), "
     "random-random (hopping, replacement), random-static (hopping, true banner). 'Identified': share of version-scan "
     "results on open ports naming the real product (Gunicorn, vsftpd, ...); 'believed': share naming the replacement "
     "that instance showed. Replacements come from common or exotic real-world server strings."),
    ("Legitimate users", "Requests through the proxy's fixed port, a new connection each; a failure is anything but "
     "HTTP 200. Latency percentiles over successful requests."),
    ("One port for all (SAPP)", "Seed 000: the target's services listen on its loopback only; one gateway port "
     "splices connections that open with a 34-byte preamble (version, service code, session, time, HMAC-SHA256 tag) "
     "to the service's current port, and closes anything else without a byte. The sweeps' open ports, the version "
     "scans' verdicts on them, the gateway's refusals by reason, and the legitimate clients' success per service "
     "(a new connection each, checked by the service's own protocol) across the hops."),
    ("Flooding (seed 001's claim)", "A UDP service hops per exchange over n ports (port of exchange i = "
     "HMAC-SHA256(key, i) over the n); a flooder without the key spends a fixed budget B of datagrams/s over k of "
     "the n ports; each port is read at capacity c, so a flooded port's small buffer overflows. Success: a "
     "legitimate exchange answered within 0.5 s, counted while the flood ran. Theory (theory.md section 5): the "
     "live port is flooded with probability k/n and then keeps a datagram with probability c/(B/k + legit/n), "
     "so the flood power on it is B/n (a gain of n). Seed 001 claims sqrt(n): shown as if the live port met B/sqrt(n)."),
    ("Hop latency", "From the truth log, per completed hop: decision to hop done, and each phase."),
    ("Direct (keyed) clients", "Seed 001: clients that compute the port as HMAC-SHA256(key, service, slot) from "
     "their own clock, offset by a set skew, and connect to the target directly. Theory: a client ahead by s misses "
     "(s - lead)+ of every slot, one behind by s misses (s - grace)+ (theory.md section 4, fixed slots), with the "
     "lab's effective lead (how long before its slot the port's instance started) and grace (how long after the slot "
     "began the old instance's stop began), medians from the truth log."),
]


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _plots(run: Run, summary: dict, series: dict) -> list[tuple[str, str]]:
    import matplotlib
    matplotlib.use("Agg")
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
    out.append(("Port timeline per service", _png(fig)))

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
    out.append(("Reconnaissance decay against theory", _png(fig)))

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
        out.append(("Availability for legitimate users", _png(fig)))

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
        out.append(("Hop latency", _png(fig)))

    if summary.get("flood"):
        f = summary["flood"]
        rows = [r for r in f["by_n"] if r["success_rate"] is not None]
        fig, ax = plt.subplots(figsize=(8, 4))
        ns = [r["n"] for r in f["by_n"]]
        ax.plot(ns, [r["theory"] for r in f["by_n"]], "-", color="tab:blue", label="theory.md: flood on the live port B/n")
        ax.plot(ns, [r["seed_claim"] for r in f["by_n"]], "--", color="tab:gray", label="seed 001's claim: B/sqrt(n)")
        ax.plot([r["n"] for r in rows], [r["success_rate"] for r in rows], "o", color="tab:red", ms=7, label="measured")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [str(n) for n in ns])
        ax.set_ylim(-0.02, 1.05)
        ax.set_xlabel("n: ports the service hops over, per exchange")
        ax.set_ylabel("legitimate success")
        ax.set_title(f"Flooding: {f['budget_pps']:g} datagrams/s over {f['flooded']} ports, {f['capacity_pps']:g}/s read per port")
        ax.legend(fontsize=8)
        out.append(("Legitimate success against n under a flood", _png(fig)))
    return out


def _figures(summary: dict) -> list[tuple[str, str, object]]:
    """(label, summary.json key path, value) for the table."""
    rows = [("Duration (s)", "duration_s"), ("Hops", "hops"),
            ("Hop latency p50 (s)", "hop_latency_s.p50"), ("Hop latency p95 (s)", "hop_latency_s.p95"),
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
    for mode, row in summary.get("banner_modes", {}).items():
        if row["version_scans"]:
            rows += [(f"Banner mode {mode}: product identified", f"banner_modes.{mode}.identified"),
                     (f"Banner mode {mode}: replacement believed", f"banner_modes.{mode}.deceived"),
                     (f"Banner mode {mode}: version scans", f"banner_modes.{mode}.version_scans")]
    if summary.get("direct"):
        rows += [("Keyed slot (s)", "direct.slot_s"), ("Keyed grace, set (s)", "direct.grace_s"),
                 ("Keyed grace, effective (s)", "direct.effective_grace_s"), ("Keyed lead, set (s)", "direct.lead_s"),
                 ("Keyed lead, effective (s)", "direct.effective_lead_s")]
    for i, row in enumerate((summary.get("direct") or {}).get("by_skew", [])):
        rows += [(f"Direct client, skew {row['skew_s']:+g} s: success", f"direct.by_skew.{i}.success_rate"),
                 (f"Direct client, skew {row['skew_s']:+g} s: theory", f"direct.by_skew.{i}.theory"),
                 (f"Direct client, skew {row['skew_s']:+g} s: requests", f"direct.by_skew.{i}.requests")]
    if summary.get("sapp"):
        rows += [("SAPP gateway port", "sapp.port"), ("SAPP: open ports the sweeps saw", "sapp.attacker.open_ports_seen"),
                 ("SAPP: sweeps that saw only the gateway", "sapp.attacker.sweeps_seeing_only_the_gateway"),
                 ("SAPP: port sweeps", "sapp.attacker.port_sweeps"),
                 ("SAPP: gateway connections accepted", "sapp.gateway.accepted"),
                 ("SAPP: gateway connections refused", "sapp.gateway.refused"),
                 ("SAPP client requests", "sapp.client.requests"), ("SAPP client failures", "sapp.client.failures"),
                 ("SAPP client success rate", "sapp.client.success_rate")]
        for i, v in enumerate(summary["sapp"]["attacker"]["version_scan_results"]):
            rows.append((f"SAPP: version scans of port {v['port']} naming service {v['service'] or 'none'}, "
                         f"product {v['product'] or 'none'}", f"sapp.attacker.version_scan_results.{i}.count"))
        for svc in summary["sapp"]["client"]["by_service"]:
            rows += [(f"SAPP client, {svc}: success rate", f"sapp.client.by_service.{svc}.success_rate"),
                     (f"SAPP client, {svc}: requests", f"sapp.client.by_service.{svc}.requests"),
                     (f"SAPP client, {svc}: hops", f"sapp.client.by_service.{svc}.hops")]
    if summary.get("flood"):
        rows += [("Flood budget (datagrams/s)", "flood.budget_pps"), ("Per-port capacity (datagrams/s)", "flood.capacity_pps"),
                 ("Ports flooded", "flood.flooded")]
        for i, row in enumerate(summary["flood"]["by_n"]):
            rows += [(f"n={row['n']}: legitimate success", f"flood.by_n.{i}.success_rate"),
                     (f"n={row['n']}: theory (gain n)", f"flood.by_n.{i}.theory"),
                     (f"n={row['n']}: seed 001's sqrt(n) claim", f"flood.by_n.{i}.seed_claim"),
                     (f"n={row['n']}: exchanges", f"flood.by_n.{i}.exchanges"),
                     (f"n={row['n']}: flood achieved (datagrams/s)", f"flood.by_n.{i}.flood_pps"),
                     (f"n={row['n']}: kernel drops at the service", f"flood.by_n.{i}.kernel_drops")]
    return [(label, key, lookup(summary, key)) for label, key in rows]


DECAY_COLUMNS = [("observations", "observations"), ("placements", "placements"), ("half-life (s)", "half_life_s"),
                 ("95% CI", "half_life_ci95"), ("naive CI", "half_life_ci95_naive"),
                 ("law theory, lab (s)", "theory_half_life_s"), ("law theory, pure (s)", "theory_half_life_pure_s"),
                 ("realised theory (s)", "theory_half_life_realised_s"), ("law inside", "theory_within_ci95"),
                 ("realised inside", "realised_within_ci95"), ("extra life (s)", "extra_life_s"),
                 ("mean interval drawn (s)", "mean_interval_drawn_s"), ("law mean (s)", "law_mean_interval_s")]


def decay_table(summary: dict) -> str:
    """Per service and pooled: the half-life, both intervals and both theories, side by side."""
    rows = [(name, f"decay.by_service.{name}") for name in summary["decay"].get("by_service", {})]
    rows.append(("pooled", "decay"))
    head = "".join(f"<th>{html.escape(label)}</th>" for label, _ in DECAY_COLUMNS)
    body = []
    for name, base in rows:
        row = lookup(summary, base)
        cells = "".join(f'<td data-key="{base}.{key}">{html.escape(show(row.get(key)))}</td>'
                        if key in row else "<td></td>" for _, key in DECAY_COLUMNS)
        body.append(f"<tr><th>{html.escape(name)}</th>{cells}</tr>")
    return (f'<div class="wide"><table id="decay-by-service"><tr><th>service</th>{head}</tr>{"".join(body)}'
            '</table></div>')


def lookup(summary: dict, key: str):
    value = summary
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return value


def show(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return f"{value:g}" if isinstance(value, float) else str(value)


def render(run: Run, summary: dict, series: dict) -> str:
    plots = _plots(run, summary, series)
    rows = "\n".join(f'<tr><th>{html.escape(label)}</th><td data-key="{key}">{html.escape(show(v))}</td></tr>'
                     for label, key, v in _figures(summary))
    images = "\n".join(f"<figure><img alt=\"{html.escape(t)}\" src=\"{src}\"><figcaption>{html.escape(t)}</figcaption></figure>"
                       for t, src in plots)
    defs = "\n".join(f"<dt>{html.escape(a)}</dt><dd>{html.escape(b)}</dd>" for a, b in DEFINITIONS)
    policies = "".join(f"<li><b>{html.escape(n)}</b>: {html.escape(p['interval'])}, pool {html.escape(p['pool'])} "
                       f"({p['pool_size']} ports)</li>" for n, p in summary["policies"].items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>mtdlab report: {html.escape(summary['scenario'])}</title>
<style>
body {{ font: 15px/1.45 system-ui, sans-serif; max-width: 70em; margin: 2em auto; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; }} th, td {{ border-bottom: 1px solid #ddd; padding: .25em .8em; text-align: left; }}
td {{ font-variant-numeric: tabular-nums; }} img {{ max-width: 100%; }} figure {{ margin: 1.5em 0; }}
pre {{ background: #f6f6f6; padding: 1em; overflow: auto; }} dt {{ font-weight: 600; margin-top: .6em; }}
.wide {{ overflow-x: auto; }} #decay-by-service {{ font-size: 13px; }} #decay-by-service th {{ vertical-align: bottom; }}
</style></head>
<body data-images="{len(plots)}">
<h1>mtdlab report: {html.escape(summary['scenario'])}</h1>
<p>Seed {summary['seed']}, {show(summary['duration_s'])} s, {summary['hops']} hops. Services: </p><ul>{policies}</ul>
<h2>Figures</h2>
<table id="figures">{rows}</table>
<h2>Reconnaissance decay per service</h2>
{decay_table(summary)}
<h2>Plots</h2>
{images}
<h2>Definitions</h2>
<dl>{defs}</dl>
<h2>Scenario as run</h2>
<pre>{html.escape(run.scenario.source)}</pre>
<p>Made by mtdlab from the raw data in this run folder (truth.jsonl, attacker/, legit.jsonl);
<code>mtdlab report DIR</code> makes it again. summary.json holds the same figures.</p>
<script>
// Marks how many plots the browser decoded, so an automatic check can tell they loaded.
window.addEventListener("load", () => {{
  const ok = [...document.images].filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.imagesLoaded = ok;
}});
</script>
</body></html>
"""


def write_report(run_dir: str | Path) -> dict:
    run = Run.load(run_dir)
    summary, series = compute(run)
    Path(run_dir, "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    Path(run_dir, "report.html").write_text(render(run, summary, series))
    return summary
