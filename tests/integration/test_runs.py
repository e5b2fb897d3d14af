"""Scenario runs on the real engine: a whole run ends in a report whose numbers are the
summary's, two runs side by side stay apart, and a bad scenario starts nothing."""
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import docker
import pytest

from mtdlab.contract import labels
from mtdlab.contract.events import read_events
from mtdlab.reporting.report import lookup, show
from mtdlab.analysis.truth import read_truth
from mtdlab.contract.wait import Condition, wait_for

pytestmark = pytest.mark.integration

HOPPING = """
name: it-hopping
seed: 11
target:
  services:
    - {name: web, kind: web, hop: {interval: {law: exponential, mean_s: 3}, pool: {ranges: ["9001-9099"]}}}
    - {name: ssh, kind: ssh, hop: {interval: {law: uniform, low_s: 2, high_s: 4}, pool: {ranges: ["9101-9199"]}}}
attacker: {ports: "9000-9300", timing: T4, pause_s: 0.5, version_scan: true, act_delay_s: 2}
legit: {rate_per_s: 20}
"""
STATIC = """
name: it-static
seed: 12
target:
  services:
    - {name: web, kind: web, hop: {interval: {law: never}, pool: {ranges: ["9401-9499"]}}}
    - {name: redis, kind: redis, hop: {interval: {law: never}, pool: {ranges: ["9501-9599"]}}}
attacker: {ports: "9000-9600", timing: T4, pause_s: 0.5, version_scan: true}
legit: {rate_per_s: 10}
"""


def lab_containers():
    c = docker.from_env()
    return c.containers.list(all=True, filters={"label": f"{labels.OWNER}={labels.OWNER_VALUE}"})


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two `mtdlab run` processes at the same time: one hopping, one static."""
    base = tmp_path_factory.mktemp("runs")
    before = {c.id for c in lab_containers()}
    procs = {}
    for name, text in (("hopping", HOPPING), ("static", STATIC)):
        (base / f"{name}.yaml").write_text(text)
        # The hopping run is watched live (--watch, on a free port): its view is read while it runs.
        watch = ["--watch", "--watch-port", "0"] if name == "hopping" else []
        procs[name] = subprocess.Popen([sys.executable, "-m", "mtdlab.host.cli", "run", str(base / f"{name}.yaml"),
                                        "--duration", "40", "--out", str(base / name), *watch],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    first_lines, live = [], None
    for row in procs["hopping"].stdout:
        first_lines.append(row)
        if m := re.search(r"live view on (http://\S+)", row):
            live = wait_for(Condition(lambda: watched(m.group(1)), "both services placed, in the live view"), 90)
            break
    for name, p in procs.items():
        out, _ = p.communicate(timeout=300)
        out = ("".join(first_lines) if name == "hopping" else "") + out
        assert p.returncode == 0, f"{name}: {out}"
        assert "run: lab mtdrun-" in out and "removed" in out       # progress is shown
    after = {c.id for c in lab_containers()}
    return {name: base / name for name in procs}, after - before, live


def watched(url: str) -> dict | None:
    """The live view once both services have a port and some hop is done (None before)."""
    try:
        view = json.loads(urllib.request.urlopen(url + "view.json", timeout=2).read())
    except OSError:
        return None
    ports = {s["name"]: s["port"] for s in view["services"]}
    return view if ports.keys() == {"web", "ssh"} and all(ports.values()) and view["hop_latency"]["total"]["n"] else None


def test_a_run_is_watched_live(runs):
    view = runs[2]
    assert view is not None, "`mtdlab run --watch` printed no live view address"
    assert view["run"]["scenario"] == "it-hopping" and view["controller_running"]
    truth = list(read_events(runs[0]["hopping"] / "truth.jsonl"))
    placed = {e["service"]: e["port"] for e in truth if e["event"] == "hop.proxy_switched"}
    assert {s["name"] for s in view["services"]} == set(placed)


def test_run_folder_holds_everything_and_nothing_is_left(runs):
    folders, left, _ = runs
    assert not left, f"containers left behind: {left}"
    for folder in folders.values():
        for name in ("scenario.yaml", "truth.jsonl", "attacker/observations.jsonl", "legit.jsonl",
                     "summary.json", "report.html"):
            assert (folder / name).exists(), name
        assert list((folder / "attacker" / "xml").glob("*-ports.xml"))
    client = docker.from_env()
    assert not [n for n in client.networks.list() if n.name.startswith("mtdrun-it-")]


def test_hopping_run_figures(runs):
    s = json.loads((runs[0]["hopping"] / "summary.json").read_text())
    assert s["hops"] >= 10 and s["legit"]["failures"] == 0 and s["legit"]["requests"] >= 700
    assert s["sweeps"]["unexplained"] == 0 and s["sweeps"]["count"] >= 5
    assert s["decay"]["observations"] > 0 and s["decay"]["half_life_s"] is not None
    assert s["act_after_delay"]["attempts"] > 0
    assert s["hop_latency_s"]["p50"] > 0
    assert s["problems"] == []


def test_static_run_has_no_decay_and_perfect_sweeps(runs):
    s = json.loads((runs[0]["static"] / "summary.json").read_text())
    assert s["hops"] == 0
    assert s["decay"]["half_life_s"] is None            # nothing the attacker saw went stale
    assert s["sweeps"]["precision"] == 1 and s["sweeps"]["recall"] == 1
    assert s["service_id_accuracy"] == 1               # static services are named right by nmap -sV


def test_side_by_side_runs_do_not_disturb_each_other(runs):
    folders, _, _ = runs
    truths = {n: read_truth(f / "truth.jsonl") for n, f in folders.items()}
    ips = {n: next(e for e in t.events if e["event"] == "controller.started")["target_ip"] for n, t in truths.items()}
    assert ips["hopping"] != ips["static"]
    for name, folder in folders.items():
        own = {p.port for p in truths[name].placements}
        seen = {p for e in read_events(folder / "attacker" / "observations.jsonl")
                if e["event"] == "sweep.done" for p in e["open"]}
        assert seen and seen <= own, f"{name} saw ports that are not its own: {seen - own}"


def test_report_rebuilds_from_raw_data(runs):
    folder = runs[0]["hopping"]
    before = json.loads((folder / "summary.json").read_text())
    result = subprocess.run([sys.executable, "-m", "mtdlab.host.cli", "report", str(folder)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads((folder / "summary.json").read_text()) == before


def test_report_renders_in_headless_chromium(runs):
    folder = runs[0]["hopping"]
    summary = json.loads((folder / "summary.json").read_text())
    dom = subprocess.run(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", (folder / "report.html").resolve().as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "<h1>mtdlab report: it-hopping</h1>" in dom
    images = re.search(r'data-images="(\d+)"', dom).group(1)
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    assert loaded, "the page's load handler did not run"
    assert int(images) == int(loaded.group(1)) == 4, "every embedded plot decodes"
    cells = dict(re.findall(r'<td data-key="([^"]+)">([^<]*)</td>', dom))
    assert cells and all(text == show(lookup(summary, key)) for key, text in cells.items())
    shot = folder / "report.png"
    subprocess.run(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--window-size=1200,2400", f"--screenshot={shot}", (folder / "report.html").resolve().as_uri()],
                   capture_output=True, timeout=120)
    assert shot.stat().st_size > 50_000   # a real page with plots, not a blank one


def test_invalid_scenario_starts_nothing(tmp_path):
    bad = Path(__file__).parent.parent / "fixtures" / "scenarios" / "invalid" / "interval-zero.yaml"
    before = {c.id for c in lab_containers()}
    result = subprocess.run([sys.executable, "-m", "mtdlab.host.cli", "run", str(bad), "--out", str(tmp_path / "r")],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "hop.interval.mean_s: expected a number > 0, got 0" in result.stderr
    assert f"{bad}:11:" in result.stderr
    assert {c.id for c in lab_containers()} == before and not (tmp_path / "r").exists()


def test_an_attacker_that_dies_mid_run_is_reported_and_the_run_fails(tmp_path):
    """Killed (a crash would do the same) 20 s into a 40 s run: the run goes on, its report says
    so before any figure, `mtdlab run` exits 1, and nothing is left behind."""
    (tmp_path / "s.yaml").write_text(STATIC.replace("it-static", "it-attacker-dies"))
    before = {c.id for c in lab_containers()}
    proc = subprocess.Popen([sys.executable, "-m", "mtdlab.host.cli", "run", str(tmp_path / "s.yaml"), "--duration", "40",
                             "--out", str(tmp_path / "run")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        def attacker_scanning():
            found = [c for c in lab_containers() if c.labels.get("com.docker.compose.service") == "attacker"
                     and c.labels.get("com.docker.compose.project", "").startswith("mtdrun-it-attacker-d")]
            obs = tmp_path / "run" / "attacker" / "observations.jsonl"
            done = obs.exists() and any(e["event"] == "sweep.done" for e in read_events(obs))
            return found[0] if found and found[0].status == "running" and done else None
        wait_for(Condition(attacker_scanning, "the attacker's first sweep done"), 120).kill()
        out, _ = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 1, out
    assert "the attacker exited with code 137" in out and "attacker.error" in out
    assert (tmp_path / "run" / "attacker.error").read_text().startswith("the attacker exited with code 137")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [p["part"] for p in summary["problems"]] == ["attacker"]
    assert summary["sweeps"]["count"] >= 1 and summary["legit"]["failures"] == 0   # the rest was measured
    page = (tmp_path / "run" / "report.html").read_text()
    assert page.index('id="problems"') < page.index('id="figures"')
    assert {c.id for c in lab_containers()} == before
