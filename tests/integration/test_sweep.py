"""A sweep end to end on the real engine: two points (two attacker profiles), one run each,
through the command line; every run folder carries its manifest, and `mtdlab rerun` of one run
agrees with it."""
import hashlib
import json
import re
import subprocess
import sys

import docker
import pytest

from mtdlab.contract import labels

pytestmark = pytest.mark.integration

SWEEP = """
name: it-sweep
base: {base}
duration_s: 30
repetitions: 1
vary:
  attacker.profile: [hop-aware, sampler]
  attacker.ports: ["9000-9300"]
  attacker.pause_s: [0.5]
"""
BASE = """
name: it-sweep-base
seed: 21
target:
  services:
    - {name: web, kind: web, hop: {interval: {law: exponential, mean_s: 2}, pool: {ranges: ["9001-9099"]}}}
    - {name: redis, kind: redis, hop: {interval: {law: exponential, mean_s: 2}, pool: {ranges: ["9201-9299"]}}}
attacker: {ports: "9000-9999", timing: T4, pause_s: 1, version_scan: false, act_delay_s: 1}
legit: {rate_per_s: 10}
"""


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "mtdlab.host.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def owned_containers():
    return docker.from_env().containers.list(all=True, filters={"label": f"{labels.OWNER}={labels.OWNER_VALUE}"})


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    base = tmp_path_factory.mktemp("sweep")
    (base / "base.yaml").write_text(BASE)
    (base / "sweep.yaml").write_text(SWEEP.format(base="base.yaml"))
    before = {c.id for c in owned_containers()}
    done = cli("sweep", base / "sweep.yaml", "--out", base / "out")
    assert done.returncode == 0, done.stderr[-3000:]
    assert {c.id for c in owned_containers()} <= before           # every lab of the sweep was removed
    return base / "out", done


def test_a_two_point_sweep_runs_end_to_end(sweep):
    out, done = sweep
    assert "sweep: run 2/2 p01-r0" in done.stderr and "left" in done.stderr   # progress with an estimate
    data = json.loads((out / "sweep.json").read_text())
    assert (data["runs"], data["finished"]) == (2, 2)
    aware, sampler = data["points"][0]["figures"], data["points"][1]["figures"]
    for f in (aware, sampler):
        assert f["mean_interval_s"] == 2 and f["decay"]["observations"] > 0 and f["sweep_find"]["sweeps"] > 5
        assert f["legit"]["requests"] > 200 and f["legit"]["failures"] == 0 and f["act_after_delay"]["attempts"] > 0
        assert f["decay"]["theory_half_life_pure_s"] is not None
    # each profile did what it says, and every round, partial ones too, agrees with the truth log
    rounds = {pid: [e for e in map(json.loads, (out / f"{pid}-r0" / "attacker" / "observations.jsonl").open())]
              for pid in ("p00", "p01")}
    narrow = [e for e in rounds["p00"] if e["event"] == "sweep.done" and e.get("scope") == "narrow"]
    assert narrow and all(e["after_closed"] and e["scanned"] for e in narrow)
    assert any(e["event"] == "followup" and e["delay_s"] == 0 for e in rounds["p00"])   # acts at once after a rescan
    sampled = [e for e in rounds["p01"] if e["event"] == "sweep.done"]
    assert sampled and all(e["scope"] == "sample" and e["scanned"] for e in sampled)
    assert sampler["sweep_find"]["found_share"] < 0.6 < aware["sweep_find"]["found_share"]   # a quarter of the ports
    for pid in ("p00", "p01"):
        judged = cli("check", out / f"{pid}-r0")
        assert json.loads(judged.stdout)["sweeps"]["unexplained"] == 0, judged.stdout[-2000:]
    page = (out / "sweep.html").read_text()
    assert page.count("<img") == 5 and "<script src" not in page
    # the command again: nothing left to do, the same figures
    again = cli("sweep", out.parent / "sweep.yaml", "--out", out)
    assert again.returncode == 0 and "2 of 2 runs already finished" in again.stderr, again.stderr[-2000:]


def test_every_run_folder_has_a_manifest(sweep):
    out, _ = sweep
    m = json.loads((out / "p00-r0" / "manifest.json").read_text())
    assert m["schema"] == "mtdlab.manifest/1"
    assert m["scenario"]["sha256"] == hashlib.sha256((out / "p00-r0" / "scenario.yaml").read_bytes()).hexdigest()
    assert m["scenario"]["seed"] == 21 and m["duration_s"] == 30
    assert m["images"]["mtdlab/lab:latest"] == docker.from_env().images.get("mtdlab/lab:latest").id
    assert "nginx" in m["images"]["package_list"]["packages"]
    assert any(p.startswith("nginx=") for p in m["images"]["installed"])
    assert m["host"]["cores"] >= 1 and m["host"]["kernel"] and m["host"]["docker_engine"]
    assert m["mtdlab"]["version"] and len(m["mtdlab"]["commit"] or "x" * 40) == 40


def test_rerun_compares_its_figures_with_the_old_intervals(sweep):
    out, _ = sweep
    done = cli("rerun", out / "p01-r0", "--out", out / "p01-rerun")
    assert done.returncode in (0, 1), done.stderr[-3000:]          # 1: a figure fell outside (said, not failed)
    verdict = json.loads(done.stdout)
    assert verdict["setup"] == {"compared": True, "scenario": True, "images": True, "packages": True,
                                "code": True, "host": True}
    half = verdict["figures"]["decay.half_life_s"]
    assert half["inside"] == (half["old_ci95"][0] <= half["new"] <= half["old_ci95"][1])
    assert (done.returncode == 0) == all(f["inside"] for f in verdict["figures"].values())
    # mtdlab compare OLD NEW says the same
    again = cli("compare", out / "p01-r0", out / "p01-rerun")
    assert json.loads(again.stdout)["figures"] == verdict["figures"]


def test_the_sweep_page_renders_in_headless_chromium(sweep):
    out, _ = sweep
    data = json.loads((out / "sweep.json").read_text())
    dom = subprocess.run(["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                          "--dump-dom", (out / "sweep.html").resolve().as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "<h1>Sweep it-sweep</h1>" in dom
    loaded = re.search(r'data-images-loaded="(\d+)"', dom)
    assert loaded and int(loaded.group(1)) == 5, "every embedded plot decodes, offline"
    cell = re.search(r'<td data-key="points.0.figures.decay.half_life_s">([^<]*)</td>', dom).group(1)
    assert cell == f'{data["points"][0]["figures"]["decay"]["half_life_s"]:g}'
