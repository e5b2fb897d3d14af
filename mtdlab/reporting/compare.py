"""`mtdlab compare RUN_DIR...`: one offline HTML page setting several runs' figures side by side
(used by `make reports`, for instance to compare nmap timing templates)."""
from __future__ import annotations

import html
import json
from pathlib import Path

from mtdlab.reporting.report import lookup, show

COLUMNS = [("Hops", "hops"), ("Sweep (s)", "sweeps.sweep_s"), ("Sweeps", "sweeps.count"),
           ("Precision", "sweeps.precision"), ("Recall", "sweeps.recall"),
           ("Half-life (s)", "decay.half_life_s"), ("CI low", "decay.half_life_ci95.0"),
           ("CI high", "decay.half_life_ci95.1"), ("Theory (s)", "decay.theory_half_life_s"),
           ("Act success", "act_after_delay.success_rate"), ("Act theory", "act_after_delay.theory"),
           ("Service id", "service_id_accuracy"), ("Legit failures", "legit.failures")]


def write_index(run_dirs: list[Path], out: Path) -> None:
    rows = []
    for d in run_dirs:
        s = json.loads((d / "summary.json").read_text())
        link = html.escape(str((d / "report.html").resolve().relative_to(out.parent.resolve())
                               if (d / "report.html").resolve().is_relative_to(out.parent.resolve()) else d / "report.html"))
        rows.append(f'<tr><th><a href="{link}">{html.escape(s["scenario"])}</a></th>'
                    + "".join(f"<td>{html.escape(show(lookup(s, k)))}</td>" for _, k in COLUMNS) + "</tr>")
    head = "".join(f"<th>{html.escape(c)}</th>" for c, _ in COLUMNS)
    out.write_text(f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mtdlab runs</title>
<style>body{{font:15px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
th,td{{border-bottom:1px solid #ddd;padding:.3em .7em;text-align:left}}</style></head><body>
<h1>mtdlab runs side by side</h1><table><tr><th>scenario</th>{head}</tr>{''.join(rows)}</table>
<p>Each name opens that run's full report. Definitions are in every report.</p></body></html>
""")
