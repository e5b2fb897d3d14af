"""Metrics and the report on a synthetic run folder (no engine): the documented summary.json
keys exist, and the HTML shows exactly the figures of summary.json."""
import json
import re
import shutil
from pathlib import Path

import pytest

from mtdlab.analysis.decay import kaplan_meier, km_half_life
from mtdlab.analysis.metrics import Run
from mtdlab.reporting.summary import compute
from mtdlab.reporting.report import lookup, show, write_report

SCENARIO = """name: synthetic
seed: 3
duration_s: 100
target:
  services:
    - name: web
      kind: web
      hop:
        interval: {law: fixed, period_s: 10}
        pool: {ranges: ["9001-9099"]}
attacker:
  ports: "9000-9100"
  act_delay_s: 2
legit: {rate_per_s: 2}
"""


def test_kaplan_meier_with_censoring():
    # 4 at risk; event at 1 -> 3/4; censored at 2; event at 3 -> 3/4 * 1/2
    assert kaplan_meier([(1, True), (2, False), (3, True), (4, False)]) == [(0.0, 1.0), (1, 0.75), (3, 0.375)]
    assert km_half_life([(1, True), (2, False), (3, True), (4, False)]) == 3
    assert km_half_life([(5, False)] * 10) is None


def make_run(tmp: Path) -> Path:
    """A web service hopping every 10 s over 100 s; a sweep every 2 s that sees the truth."""
    ev, port, obs, legit = [], 9001, [], []
    w = lambda e, m, **f: ev.append({"v": 1, "event": e, "wall": 1e9 + m, "mono": m, **f})
    w("controller.started", 0, services={"web": {"interval": "fixed 10 s", "pool": "9001-9099", "pool_size": 99}})
    for hop in range(10):
        d = hop * 10.0 + 1
        w("hop.decided", d, service="web", hop=hop, old_port=port if hop else None, new_port=9001 + hop, stay_s=10.0)
        w("hop.instance_started", d + .1, service="web", hop=hop, port=9001 + hop, container=f"c{hop}")
        w("hop.ready", d + .2, service="web", hop=hop, port=9001 + hop, container=f"c{hop}")
        w("hop.proxy_switched", d + .3, service="web", hop=hop, port=9001 + hop)
        w("hop.drained", d + .4, service="web", hop=hop)
        if hop:
            w("hop.old_stopping", d + .5, service="web", hop=hop, port=9000 + hop, container=f"c{hop - 1}")
            w("hop.old_stopped", d + .6, service="web", hop=hop, port=9000 + hop, container=f"c{hop - 1}")
        w("hop.done", d + .6, service="web", hop=hop, port=9001 + hop)
    w("service.stopped", 100.5, service="web", hop=9, port=9010, container="c9")
    w("controller.stopped", 100.6)
    for i in range(49):
        s, e = 2.0 + 2 * i, 2.1 + 2 * i
        hop = int((e - 1.2) // 10)
        obs.append({"event": "sweep.done", "sweep": i + 1, "scan": "ports", "open": [9001 + hop],
                    "start_mono": s, "end_mono": e, "mono": e})
        obs.append({"event": "followup", "sweep": i + 1, "port": 9001 + hop, "discovered_mono": e,
                    "at_mono": e + 2, "connected": True, "mono": e + 2})
    for i in range(180):
        legit.append({"mono": 5 + i * .5, "wall": 0, "ok": i != 7, "status": 200 if i != 7 else None,
                      "latency_ms": 1.0 + (i % 10) / 10})
    (tmp / "attacker").mkdir(parents=True)
    (tmp / "scenario.yaml").write_text(SCENARIO)
    (tmp / "truth.jsonl").write_text("".join(json.dumps(e) + "\n" for e in ev))
    (tmp / "attacker" / "observations.jsonl").write_text("".join(json.dumps(e) + "\n" for e in obs))
    (tmp / "legit.jsonl").write_text("".join(json.dumps(r) + "\n" for r in legit))
    return tmp


DOCUMENTED = ["scenario", "duration_s", "hops", "hop_latency_s.p50", "hop_latency_s.p95", "legit.requests",
              "legit.failures", "legit.success_rate", "legit.latency_ms.p50", "legit.latency_ms.p95",
              "legit.latency_ms.p99", "decay.observations", "decay.half_life_s", "decay.half_life_ci95",
              "decay.theory_half_life_s", "sweeps.count", "sweeps.precision", "sweeps.recall",
              "act_after_delay.delay_s", "act_after_delay.attempts", "act_after_delay.success_rate",
              "act_after_delay.theory", "service_id_accuracy"]


def test_summary_has_every_documented_key_and_right_values(tmp_path):
    summary, _ = compute(Run.load(make_run(tmp_path)))
    for key in DOCUMENTED:
        lookup(summary, key)  # raises if missing
    assert summary["hops"] == 9 and summary["legit"]["requests"] == 180 and summary["legit"]["failures"] == 1
    # The four sweeps in the last slot (92-98 s) saw port 9010, which the shutdown (not a hop) closed.
    assert summary["decay"]["censored"] == 4 and summary["decay"]["observations"] == 49
    assert summary["sweeps"]["precision"] == 1 and summary["sweeps"]["recall"] == 1
    assert summary["sweeps"]["unexplained"] == 0
    # Fixed 10 s hops; a port accepts 10.5 s (instance started +0.1 .. old instance gone +0.6 after the
    # next decision), so extra = 0.5 and S(d) = 10 (1 - (d - 0.5)/10) / 10.5 = 1/2 at d = 5.25 s for a
    # port seen at the sweep's end; a sweep of 0.1 s probed it on average 0.05 s before: 5.2 s.
    assert summary["decay"]["extra_life_s"] == pytest.approx(0.5)
    assert summary["decay"]["theory_half_life_s"] == pytest.approx(5.25 - 0.05, abs=0.01)
    assert summary["decay"]["half_life_ci95"][0] <= summary["decay"]["half_life_s"] <= summary["decay"]["half_life_ci95"][1]
    # Follow-ups 2 s after a sweep: the port held unless a hop came in between.
    assert 0.7 < summary["act_after_delay"]["success_rate"] < 0.9


def test_report_shows_the_summary_figures_and_is_self_contained(tmp_path):
    run = make_run(tmp_path)
    summary = write_report(run)
    assert json.loads((run / "summary.json").read_text()) == summary
    page = (run / "report.html").read_text()
    cells = dict(re.findall(r'<td data-key="([^"]+)">([^<]*)</td>', page))
    assert len(cells) > 25
    for key, text in cells.items():
        assert text == show(lookup(summary, key)), key
    assert "src=\"http" not in page and "href=\"http" not in page      # nothing fetched from anywhere
    assert page.count("data:image/png;base64,") == 4
    # Rebuilt from the raw data alone, the figures are the same.
    shutil.copytree(run, tmp_path.parent / "copy", ignore=shutil.ignore_patterns("summary.json", "report.html"))
    assert write_report(tmp_path.parent / "copy") == summary


def test_a_part_that_failed_during_the_run_is_in_the_summary_and_first_in_the_report(tmp_path):
    run = make_run(tmp_path)
    assert write_report(run)["problems"] == [] and 'id="problems"' not in (run / "report.html").read_text()
    (run / "attacker.error").write_text("the attacker exited with code 137 about 41 s into the run\n"
                                        "--- the end of its log ---\nsweep 12 <b>done</b>\n")
    (run / "legit.error").write_text('Traceback (most recent call last):\n  File "x", line 1\n'
                                     "ConnectionRefusedError: [Errno 111] Connection refused\n")
    summary = write_report(run)
    assert summary["problems"] == [
        {"part": "attacker", "error": "the attacker exited with code 137 about 41 s into the run"},
        {"part": "legit", "error": "ConnectionRefusedError: [Errno 111] Connection refused"}]
    page = (run / "report.html").read_text()
    assert page.index('id="problems"') < page.index('id="figures"')   # before any figure it qualifies
    assert "exited with code 137" in page and "<code>legit.error</code>" in page and "<b>done</b>" not in page


def test_decay_per_service_with_placements_both_intervals_and_both_theories(tmp_path):
    summary, series = compute(Run.load(make_run(tmp_path)))
    d = summary["decay"]
    # 49 sightings of 10 placements: the interval stands on the placements.
    assert d["placements"] == 10 and d["by_service"]["web"]["placements"] == 10
    web = d["by_service"]["web"]
    assert web["intervals_drawn"] == 10 and web["mean_interval_drawn_s"] == 10 and web["law_mean_interval_s"] == 10
    assert web["mean_port_life_s"] == pytest.approx(10.5) and web["extra_life_s"] == pytest.approx(0.5)
    # The realised port lives are all 10.5 s, as the law's with extra: both theories agree (each
    # averaged over the 0.1 s sweeps, as above).
    assert d["theory_half_life_realised_s"] == pytest.approx(5.25 - 0.05, abs=0.01)
    for key in ("half_life_ci95", "half_life_ci95_naive"):
        assert d[key][0] <= d["half_life_s"] <= d[key][1]
    assert len(series["decay"]["theory_realised"]) == len(series["decay"]["grid"])
    act = summary["act_after_delay"]
    assert act["placements"] == 10 and act["success_ci95"][0] <= act["success_rate"] <= act["success_ci95"][1]
    assert act["theory_realised"] == pytest.approx(act["theory"], abs=0.01)
    web_found = summary["discovery"]["web"]
    assert web_found["discovered_share"] == 1 and web_found["discovered_share_ci95"] == [1, 1]
