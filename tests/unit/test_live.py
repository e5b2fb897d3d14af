"""The live view without Docker: the tailer on growing, torn and hostile logs; the live state
and /metrics on a real run folder (tests/fixtures/live), checked against the report's own
analysis of the same folder; bounds that hold for long runs with many services."""
import json
import math
import os
import time
from pathlib import Path

import pytest

from mtdlab.analysis.decay import decay_samples
from mtdlab.analysis.hoplatency import phase_samples
from mtdlab.analysis.km import km_half_life
from mtdlab.analysis.simulate import Model, simulate
from mtdlab.analysis.sweeps import judge_sweeps
from mtdlab.analysis.truth import read_truth
from mtdlab.contract.events import read_events
from mtdlab.contract.schedule import IntervalLaw
from mtdlab.live import state as live_state
from mtdlab.live.feed import LiveFeed, ReplayFeed
from mtdlab.live.metrics import exposition, registry_for
from mtdlab.live.state import LiveState
from mtdlab.live.tail import MAX_LINE, Tailer, is_request

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "live" / "run"


def line(**fields) -> bytes:
    return (json.dumps({"v": 1, "wall": 1.0, "mono": 1.0, **fields}) + "\n").encode()


# ---- the tailer ------------------------------------------------------------------------

def test_tailer_reads_appends_and_holds_a_torn_line(tmp_path):
    log = tmp_path / "truth.jsonl"
    t = Tailer(log)
    assert t.poll() == [] and t.problem is None            # not there yet: nothing, no problem
    first, second = line(event="a"), line(event="b")
    log.write_bytes(first + second[:7])
    assert [e["event"] for e in t.poll()] == ["a"]        # the torn line waits for its newline
    with open(log, "ab") as f:
        f.write(second[7:])
    assert [e["event"] for e in t.poll()] == ["b"]
    assert t.poll() == [] and t.malformed == 0 and t.lines == 2


def test_tailer_splits_utf8_across_reads(tmp_path):
    log = tmp_path / "truth.jsonl"
    data = (json.dumps({"event": "x", "mono": 2, "text": "port \u2192 h\u00e9"}, ensure_ascii=False) + "\n").encode()
    cut = data.index("\u2192".encode()) + 1               # in the middle of a multi-byte character
    log.write_bytes(data[:cut])
    t = Tailer(log)
    assert t.poll() == []
    with open(log, "ab") as f:
        f.write(data[cut:])
    assert t.poll()[0]["text"] == "port \u2192 h\u00e9"


def test_tailer_counts_malformed_lines_and_goes_on(tmp_path):
    log = tmp_path / "truth.jsonl"
    bad = [b"not json\n", b"[1, 2]\n", b'{"event": 3, "mono": 1}\n', b'{"event": "x"}\n',
           b'{"event": "x", "mono": "soon"}\n', b'{"event": "x", "mono": NaN}\n', b'{"event": "x", "mono": true}\n',
           b"\xff\xfe\n", b"[" * 100_000 + b"\n", b"\n", b"   \n"]
    log.write_bytes(b"".join(bad) + line(event="ok"))
    t = Tailer(log)
    assert [e["event"] for e in t.poll()] == ["ok"]
    assert t.malformed == len(bad) - 2                    # blank lines are not counted


def test_tailer_drops_a_line_longer_than_its_bound(tmp_path):
    log = tmp_path / "truth.jsonl"
    log.write_bytes(b'{"event": "x", "pad": "' + b"a" * (MAX_LINE + 10))
    t = Tailer(log)
    assert t.poll() == [] and t.malformed == 1 and t.partial == b""
    with open(log, "ab") as f:
        f.write(b'"}\n' + line(event="after"))
    assert [e["event"] for e in t.poll()] == ["after"] and t.malformed == 1


def test_tailer_starts_again_when_the_file_is_cut_or_replaced(tmp_path):
    log = tmp_path / "truth.jsonl"
    log.write_bytes(line(event="a") + line(event="b"))
    t = Tailer(log)
    assert len(t.poll()) == 2
    log.write_bytes(line(event="c"))                       # cut shorter
    assert [e["event"] for e in t.poll()] == ["c"] and t.restarts == 1
    replacement = tmp_path / "new"
    replacement.write_bytes(line(event="d") + line(event="e") + line(event="f"))
    os.replace(replacement, log)                           # a new file (new inode) under the name
    assert [e["event"] for e in t.poll()] == ["d", "e", "f"] and t.restarts == 2


def test_tailer_refuses_a_link_and_says_why(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_bytes(line(event="secret"))
    (tmp_path / "truth.jsonl").symlink_to(target)
    t = Tailer(tmp_path / "truth.jsonl")
    assert t.poll() == [] and "truth.jsonl" in t.problem


def test_request_lines_are_told_from_events():
    assert is_request({"mono": 1, "ok": True, "latency_ms": 2.5})
    assert not is_request({"mono": 1, "ok": "yes", "latency_ms": 2.5})
    assert not is_request({"mono": 1, "ok": True, "latency_ms": None})


# ---- the state against the report's analysis of the same run folder ------------------

@pytest.fixture(scope="module")
def fixture_state():
    truth = read_truth(FIXTURE / "truth.jsonl")
    state = LiveState(clock=lambda: truth.end)
    feed = ReplayFeed(FIXTURE, speed=1.0)
    for source, record in feed.records:                    # every record, in time order
        state.apply(source, record)
    return state, truth


def test_hops_and_hop_phases_match_the_truth_log(fixture_state):
    state, truth = fixture_state
    assert {s.name: s.hops for s in state.services.values()} == truth.hops
    offline = phase_samples(truth.events)
    for name, stats in state.phases.items():
        values = [x for xs in offline.get(name, {}).values() for x in xs]   # the fixture predates hop.old_exited
        assert stats.count == len(values) and stats.sum == pytest.approx(sum(values))
        assert stats.buckets[-1] <= stats.count and stats.buckets == sorted(stats.buckets)


def test_decay_and_sweeps_match_the_report(fixture_state):
    state, truth = fixture_state
    sweeps = [e for e in read_events(FIXTURE / "attacker" / "observations.jsonl")
              if e["event"] == "sweep.done" and e["scan"] == "ports"]
    offline = sorted((round(x.residual_s, 6), x.seen_end) for x in decay_samples(truth, sweeps))
    live = sorted((round(d, 6), seen) for d, seen in state.decay_pairs(truth.end))
    assert live == offline and len(live) > 100
    assert state.half_life(truth.end) == pytest.approx(km_half_life(offline))
    verdicts = judge_sweeps(truth, sweeps)
    precision = sum(len(set(v.reported) & set(v.truth_at_end)) / len(v.reported) for v in verdicts) / len(verdicts)
    recall = sum(len(set(v.reported) & set(v.truth_at_end)) / len(v.truth_at_end) for v in verdicts) / len(verdicts)
    assert state.judged_sweeps == len(verdicts) == len(sweeps)
    assert state.precision_sum / state.judged_sweeps == pytest.approx(precision)
    assert state.recall_sum / state.judged_sweeps == pytest.approx(recall)


def test_the_view_names_the_current_map_and_the_legitimate_users(fixture_state):
    state, truth = fixture_state
    view = state.view()
    json.dumps(view, allow_nan=False)                      # what the page gets is plain JSON
    # The run ended with the controller's shutdown: no service has a port now.
    assert {s["name"]: s["port"] for s in view["services"]} == {"web": None, "ssh": None, "redis": None}
    # Half-way through, the map is the truth log's latest switch of each service.
    middle = (truth.start + truth.end) / 2
    halfway = LiveState(clock=lambda: middle)
    for source, record in ReplayFeed(FIXTURE).records:
        if record["mono"] <= middle:
            halfway.apply(source, record)
    routed = {}
    for e in truth.events:
        if e["event"] == "hop.proxy_switched" and e["mono"] <= middle:
            routed[e["service"]] = e["port"]
    assert {s["name"]: s["port"] for s in halfway.view()["services"]} == routed
    assert all(s["banner"] == "random-static" and s["law"] == "uniform [2, 4] s" for s in view["services"])
    requests = [json.loads(x) for x in (FIXTURE / "legit.jsonl").read_text().splitlines()]
    assert view["users"]["total_requests"] == len(requests)
    assert view["users"]["total_failures"] == sum(not r["ok"] for r in requests)
    last_minute = [r for r in requests if r["mono"] >= truth.end - live_state.USERS_WINDOW_S]
    assert view["users"]["requests"] == len(last_minute)
    assert len(view["events"]) == live_state.LAST_EVENTS
    [curve] = view["decay"]["theory"]
    assert curve["points"][0] == [0.0, 1.0] and curve["extra_life_s"] > 0   # the lab's ports outlive their interval


def test_metrics_names_and_values(fixture_state):
    state, truth = fixture_state

    class Fixed:   # what the server hands the collector: the state and its lock
        import threading
        lock = threading.Lock()

    Fixed.state = state
    text = exposition(registry_for(Fixed)).decode()
    samples = {}
    for row in text.splitlines():
        if row and not row.startswith("#"):
            name, value = row.rsplit(" ", 1)
            samples[name] = float(value)
    for service, n in truth.hops.items():
        assert samples[f'mtdlab_hops_total{{service="{service}"}}'] == n
    requests = [json.loads(x) for x in (FIXTURE / "legit.jsonl").read_text().splitlines()]
    assert samples["mtdlab_legit_requests_total"] == len(requests)
    assert samples["mtdlab_legit_failures_total"] == sum(not r["ok"] for r in requests)
    attacker = list(read_events(FIXTURE / "attacker" / "observations.jsonl"))
    assert samples['mtdlab_attacker_sweeps_total{scan="ports"}'] == sum(
        e["event"] == "sweep.done" and e["scan"] == "ports" for e in attacker)
    assert samples['mtdlab_attacker_observations_total{scan="ports"}'] == sum(
        e["event"] == "observation" and e["scan"] == "ports" for e in attacker)
    assert samples["mtdlab_half_life_seconds"] == pytest.approx(state.half_life(truth.end))
    total = phase_samples(truth.events)["total"]
    assert samples['mtdlab_hop_phase_seconds_count{phase="total"}'] == sum(len(v) for v in total.values())
    assert samples['mtdlab_hop_phase_seconds_bucket{le="+Inf",phase="total"}'] == sum(len(v) for v in total.values())
    for name, kind in (("mtdlab_hops_total", "counter"), ("mtdlab_hop_phase_seconds", "histogram"),
                       ("mtdlab_legit_requests_total", "counter"), ("mtdlab_half_life_seconds", "gauge"),
                       ("mtdlab_attacker_sweeps_total", "counter"), ("mtdlab_service_port", "gauge")):
        assert f"# TYPE {name} {kind}" in text, name


# ---- hostile and broken input ----------------------------------------------------------

def test_records_that_do_not_fit_are_counted_never_raised():
    state = LiveState(clock=lambda: 100.0)
    hostile = [
        {"event": "controller.started", "mono": 1, "services": {"web": {"law": {"law": "fixed", "period_s": "x"}}}},
        {"event": "controller.started", "mono": 1, "services": ["not", "a", "dict"]},
        {"event": "hop.instance_started", "mono": 2, "service": "web", "hop": 1, "port": "eighty", "container": "c"},
        {"event": "hop.instance_started", "mono": 2, "service": ["web"], "hop": 1, "port": 80, "container": "c"},
        {"event": "hop.decided", "mono": 2, "service": "web", "hop": 1, "stay_s": "soon"},
        {"event": "hop.ready", "mono": 2, "service": "web", "hop": 1e400},
        {"event": "controller.reconciled", "mono": 3, "adopted": 5},
        {"event": "sapp.started", "mono": 3, "container": "g"},
        {"event": "hop.done", "mono": 4, "service": "<script>alert(1)</script>", "hop": 1},
    ]
    for record in hostile:
        state.apply("truth", record)
    for record in ({"event": "sweep.done", "mono": 5, "scan": "ports", "start_mono": 4, "end_mono": "x", "open": [1]},
                   {"event": "sweep.done", "mono": 5, "scan": "ports", "start_mono": 4, "end_mono": 5, "open": None}):
        state.apply("attacker", record)
    state.apply("legit", {"mono": 5, "ok": True, "latency_ms": "fast"})
    assert state.malformed["truth"] >= 6 and state.malformed["attacker"] == 2 and state.malformed["legit"] == 1
    view = state.view()
    json.dumps(view, allow_nan=False)
    assert view["warnings"]["last_problem"]
    # The name is only data: the page puts it in as text (dashboard/page/live.js never uses innerHTML).
    assert "<script>alert(1)</script>" in {s["name"] for s in view["services"]}
    assert "innerHTML" not in (Path(__file__).resolve().parents[2] / "dashboard" / "page" / "live.js").read_text()


def test_a_live_feed_shows_skipped_lines_and_unreadable_logs(tmp_path):
    (tmp_path / "attacker").mkdir()
    (tmp_path / "truth.jsonl").write_bytes(b"garbage\n" + line(event="controller.started", services={}))
    (tmp_path / "legit.jsonl").symlink_to(tmp_path / "truth.jsonl")
    feed = LiveFeed(tmp_path)
    for source, record in feed.poll():
        feed.state.apply(source, record)
    view = feed.view()
    assert view["warnings"]["skipped_lines"] == {"truth.jsonl": 1}
    assert any("legit.jsonl" in p for p in view["warnings"]["problems"])
    assert view["controller_running"] is True


# ---- bounds: long runs, many services -------------------------------------------------

def test_memory_stays_bounded_over_a_long_run_with_fifty_services(tmp_path, monkeypatch):
    """A simulated 50-service run far longer than every window: what is kept stops growing."""
    monkeypatch.setattr(live_state, "PLACES_KEPT", 20)
    monkeypatch.setattr(live_state, "MARKS_KEPT", 10)
    monkeypatch.setattr(live_state, "SAMPLES_KEPT", 300)
    simulate(Model(IntervalLaw("exponential", mean_s=2.0), cycle_s=3.0, services=50, duration_s=300.0), 3, tmp_path)
    feed = ReplayFeed(tmp_path)
    state = LiveState(clock=lambda: feed.t_end)
    for source, record in feed.records:
        state.apply(source, record)
    assert len(state.services) == 50
    assert all(len(s.places) <= 20 and len(s.marks) <= 10 for s in state.services.values())
    assert len(state.samples) == 300 and len(state.closed) <= 80
    assert sum(s.hops for s in state.services.values()) > 5000
    assert len(json.dumps(state.view())) < 2_000_000
    assert not math.isnan(state.half_life() or 0.0)


def test_watch_refuses_bad_arguments_before_serving(tmp_path):
    from mtdlab.host.watch import watch
    said = []
    assert watch(tmp_path / "absent", 1.0, False, "127.0.0.1", 0, said.append) == 2
    assert watch(FIXTURE, 0.0, False, "127.0.0.1", 0, said.append) == 2
    assert watch(FIXTURE, 1e9, False, "127.0.0.1", 0, said.append) == 2
    assert watch(tmp_path, 1.0, False, "127.0.0.1", 0, said.append) == 2    # a folder with no logs
    assert [m.split(":")[0] for m in said] == ["mtdlab watch"] * 4
    assert "is not a run folder" in said[0] and "--speed" in said[1] and "no truth log" in said[3]


def test_a_replay_plays_the_run_in_order_on_its_own_clock():
    feed = ReplayFeed(FIXTURE, speed=200.0)        # the fixture's minute in about 0.3 s
    first = feed.poll()
    assert len(first) < len(feed.records) and not feed.finished
    monos = [r["mono"] for _, r in first]
    while not feed.finished:
        time.sleep(0.01)
        batch = feed.poll()
        monos += [r["mono"] for _, r in batch]
        assert feed.replay_clock() <= feed.t_end
    assert monos == sorted(monos) and len(monos) == len(feed.records)
    assert feed.state.rate == 200.0 and feed.replay_clock() == feed.t_end
