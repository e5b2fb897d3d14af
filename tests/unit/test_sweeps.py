"""Sweeps without an engine: the sweep file's validation and expansion, the runner's resume
after an interruption, the pooled figures and the report, over simulated run folders
(mtdlab.analysis.simulate writes them in the lab's own formats)."""
import json
import threading
from pathlib import Path

import pytest
import yaml

from mtdlab.analysis.metrics import Run
from mtdlab.analysis.simulate import Model, simulate
from mtdlab.contract.reader import ScenarioError
from mtdlab.experiments import parse_scenario
from mtdlab.reporting.summary import compute
from mtdlab.research.report import write_sweep
from mtdlab.research.runner import SweepError, run_sweep
from mtdlab.research.sweepfile import load_sweep

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sweeps"
SHIPPED = Path(__file__).parent.parent.parent / "sweeps"
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.yaml")) + sorted((FIXTURES / "valid").glob("*.yaml")),
                         ids=lambda p: p.name)
def test_shipped_and_valid_sweeps_load(path):
    sweep = load_sweep(path)
    assert sweep.runs and all(parse_scenario(r.scenario_text).seed == r.seed for r in sweep.runs)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_sweeps_are_refused_with_their_message(path):
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ")
    with pytest.raises(ScenarioError) as info:
        load_sweep(path)
    assert str(info.value).startswith(f"{path}:") and expected in str(info.value), str(info.value)


def test_expansion_is_every_combination_with_its_seeds():
    sweep = load_sweep(FIXTURES / "valid" / "laws.yaml")
    assert (sweep.points, sweep.repetitions, len(sweep.runs)) == (8, 2, 16)
    assert [r.id for r in sweep.runs[:3]] == ["p00-r0", "p00-r1", "p01-r0"]
    assert {r.seed for r in sweep.runs} == {100, 101}
    by_id = {r.id: parse_scenario(r.scenario_text) for r in sweep.runs}
    # the last axis moves fastest; a named item changes that service only; [*] every service
    last = by_id["p07-r1"]
    assert last.service("web").hop.interval.law == "fixed" and last.service("ssh").hop.interval.law == "exponential"
    assert all(len(s.hop.pool) == 50 for s in last.services)
    assert last.attacker.act_delay_s == 3 and by_id["p06-r0"].attacker.act_delay_s == 0
    assert by_id["p00-r0"].service("web").hop.interval.mean_s == 2 and len(by_id["p00-r0"].service("redis").hop.pool) == 99
    # what a resumed sweep is held to: the same file makes the same digest
    assert load_sweep(FIXTURES / "valid" / "laws.yaml").digest == sweep.digest


def simulated(scenario_path: Path, duration, folder: Path, say) -> Path:
    """A stand-in for one lab run: the scenario's first law simulated (sweeps every second)."""
    scenario = parse_scenario(scenario_path.read_text())
    law = scenario.services[0].hop.interval
    simulate(Model(law, cycle_s=1.0, duration_s=duration or 60, act_delay_s=scenario.attacker.act_delay_s or 0),
             scenario.seed, folder)
    summary, _ = compute(Run.load(folder))
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def small_sweep(tmp_path: Path, means=(2, 8)) -> Path:
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump({
        "name": "small", "base": str(SHIPPED.parent / "scenarios" / "fast-exponential.yaml"), "duration_s": 120,
        "repetitions": 2, "vary": {"target.services[*].hop.interval.mean_s": list(means)}}))
    return path


def test_an_interrupted_sweep_goes_on_where_it_stopped(tmp_path):
    sweep = load_sweep(small_sweep(tmp_path))
    out, said, made = tmp_path / "out", [], []

    def crashing(scenario, duration, folder, say):
        if len(made) == 2:
            folder.mkdir()
            (folder / "truth.jsonl").write_text("{}\n")       # half a run, as a crash leaves it
            raise KeyboardInterrupt
        made.append(folder.name)
        return simulated(scenario, duration, folder, say)

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, out, said.append, crashing)
    assert made == ["p00-r0", "p00-r1"] and (out / "p01-r0" / "truth.jsonl").exists()
    data = write_sweep(out)                                   # the report of what is finished so far
    assert data["finished"] == 2 and data["points"][1]["figures"] is None

    again = []
    n = run_sweep(load_sweep(small_sweep(tmp_path)), out, said.append,
                  lambda *a: (again.append(a[2].name), simulated(*a))[1])
    assert n == 2 and again == ["p01-r0", "p01-r1"]            # the finished two were kept
    assert any("2 of 4 runs already finished" in m for m in said)
    assert any("p01-r0 was interrupted before" in m for m in said)
    assert any("about" in m and "left" in m for m in said)      # progress with an estimate


def test_a_folder_of_another_sweep_is_refused(tmp_path):
    out = tmp_path / "out"
    run_sweep(load_sweep(small_sweep(tmp_path)), out, lambda m: None, simulated)
    with pytest.raises(SweepError, match="holds another sweep"):
        run_sweep(load_sweep(small_sweep(tmp_path, means=(2, 9))), out, lambda m: None, simulated)


def test_sweep_json_pools_each_point_and_puts_theory_beside_it(tmp_path):
    out = tmp_path / "out"
    run_sweep(load_sweep(small_sweep(tmp_path)), out, lambda m: None, simulated)
    data = write_sweep(out)
    assert data["schema"] == "mtdlab.sweep/1" and data["finished"] == data["runs"] == 4
    p0, p1 = (p["figures"] for p in data["points"])
    assert (p0["runs"], p0["law"], p0["mean_interval_s"], p1["mean_interval_s"]) == (2, "exponential", 2, 8)
    for p in (p0, p1):
        d = p["decay"]
        # the simulation is the model itself: pure theory (T ln 2) inside the pooled interval
        assert d["half_life_ci95"][0] <= d["theory_half_life_pure_s"] <= d["half_life_ci95"][1], d
        assert d["placements"] > len(p["per_run"])
        assert p["act_after_delay"]["attempts"] > 0 and p["sweep_find"]["sweeps"] > 0
    assert p0["decay"]["half_life_s"] < p1["decay"]["half_life_s"]      # slower hops, longer half-life
    # T ln 2, less about half a sweep (0.05 s here): theory averages over when in the sweep a port was probed
    assert abs(p0["decay"]["theory_half_life_pure_s"] - (2 * 0.6931 - 0.025)) < 0.005
    page = (out / "sweep.html").read_text()
    assert page.count("<img") == 5 and "http" not in page.split("<body")[1].split("<h2>")[0].replace("href", "")
    assert 'data-key="points.1.figures.decay.half_life_s"' in page
    assert json.loads((out / "sweep.json").read_text())["points"][0]["params"] == {"target.services[*].hop.interval.mean_s": 2}


def test_two_varied_values_make_a_table_of_act_success(tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump({
        "name": "two", "base": str(SHIPPED.parent / "scenarios" / "fast-exponential.yaml"), "duration_s": 60,
        "vary": {"target.services[*].hop.interval.mean_s": [2, 8], "attacker.act_delay_s": [1, 4]}}, sort_keys=False))
    out = tmp_path / "out"
    run_sweep(load_sweep(path), out, lambda m: None, simulated)
    write_sweep(out)
    page = (out / "sweep.html").read_text()
    assert "Act-after-delay success by attacker.act_delay_s (rows) and target.services[*].hop.interval.mean_s" in page
    assert all(f'data-key="points.{i}.figures.act_after_delay.success_rate">0.' in page for i in range(4))


def test_runs_side_by_side_overlap_and_a_failing_one_stops_the_others(tmp_path):
    """parallel > 1 (a sweep on Swarm): runs go at once; when one fails, the stop event tells the
    others to tear down, and the sweep fails with the first error; the same command goes on later."""
    sweep = load_sweep(small_sweep(tmp_path))
    out, said = tmp_path / "out", []
    running, most, lock = set(), [0], threading.Lock()
    both_in = threading.Barrier(2, timeout=10)

    def overlapping(scenario, duration, folder, say):
        with lock:
            running.add(folder.name)
            most[0] = max(most[0], len(running))
        if folder.name in ("p00-r0", "p00-r1"):
            both_in.wait()                      # the first two are under way at the same time
        try:
            return simulated(scenario, duration, folder, say)
        finally:
            with lock:
                running.discard(folder.name)

    assert run_sweep(sweep, out, said.append, overlapping, parallel=2) == 4
    assert most[0] == 2 and all((out / r.id / "summary.json").exists() for r in sweep.runs)
    assert any("4 runs, 2 at a time" in m for m in said) and any("4/4 done" in m for m in said)

    out2, stop, seen = tmp_path / "out2", threading.Event(), []

    def one_fails(scenario, duration, folder, say):
        if folder.name == "p00-r0":
            both_in2.wait()
            raise RuntimeError("lab failed")
        both_in2.wait()
        seen.append(stop.wait(10))              # what run_scenario's wait loop sees: stopped
        folder.mkdir()
    both_in2 = threading.Barrier(2, timeout=10)
    with pytest.raises(RuntimeError, match="lab failed"):
        run_sweep(sweep, out2, said.append, one_fails, parallel=2, stop=stop)
    assert seen == [True] and not any((out2 / r.id / "summary.json").exists() for r in sweep.runs)
