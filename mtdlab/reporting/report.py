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

from mtdlab.analysis.metrics import Run
from mtdlab.experiments import EXPERIMENTS
from mtdlab.reporting.summary import compute

DEFINITIONS = [d for e in EXPERIMENTS for d in e.definitions]


def png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    import matplotlib.pyplot as plt
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _plots(run: Run, summary: dict, series: dict) -> list[tuple[str, str]]:
    import matplotlib
    matplotlib.use("Agg")
    return [(title, png(fig)) for e in EXPERIMENTS if e.plots for title, fig in e.plots(run, summary, series)]


def _figures(summary: dict) -> list[tuple[str, str, object]]:
    """(label, summary.json key path, value) for the table, every experiment's rows in order."""
    return [(label, key, lookup(summary, key)) for e in EXPERIMENTS for label, key in e.rows(summary)]


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


def problems_section(summary: dict) -> str:
    """Parts of the run that failed while it ran: the figures from their data stop there."""
    problems = summary.get("problems") or []
    if not problems:
        return ""
    items = "".join(f"<li><b>{html.escape(p['part'])}</b>: {html.escape(p['error'])} "
                    f"(<code>{html.escape(p['part'])}.error</code>)</li>" for p in problems)
    return (f'<section id="problems"><h2>Problems during this run</h2><p>These parts failed while the run '
            f"went on; the figures made from their data cover only the time before.</p><ul>{items}</ul></section>\n")


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
#problems {{ border-left: 4px solid #c33; padding: 0 1em; background: #fdf3f3; }}
pre {{ background: #f6f6f6; padding: 1em; overflow: auto; }} dt {{ font-weight: 600; margin-top: .6em; }}
.wide {{ overflow-x: auto; }} #decay-by-service {{ font-size: 13px; }} #decay-by-service th {{ vertical-align: bottom; }}
</style></head>
<body data-images="{len(plots)}">
<h1>mtdlab report: {html.escape(summary['scenario'])}</h1>
<p>Seed {summary['seed']}, {show(summary['duration_s'])} s, {summary['hops']} hops. Services: </p><ul>{policies}</ul>
{problems_section(summary)}<h2>Figures</h2>
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
