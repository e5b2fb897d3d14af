import json

from mtdlab.analysis.sweeps import judge_sweeps, sweep_summary
from mtdlab.analysis.truth import read_truth


def write(path, events):
    path.write_text("".join(json.dumps({"v": 1, "wall": e["mono"] + 1e9, **e}) + "\n" for e in events))


def hop(service, hop, mono, old, new, old_c, new_c):
    """One make-before-break hop whose phases are 0.1 s apart, starting at mono."""
    ev = [{"event": "hop.decided", "mono": mono, "service": service, "hop": hop, "old_port": old, "new_port": new},
          {"event": "hop.instance_started", "mono": mono + .1, "service": service, "hop": hop, "port": new, "container": new_c},
          {"event": "hop.ready", "mono": mono + .2, "service": service, "hop": hop, "port": new, "container": new_c},
          {"event": "hop.proxy_switched", "mono": mono + .3, "service": service, "hop": hop, "port": new}]
    if old_c:
        ev += [{"event": "hop.old_stopping", "mono": mono + .4, "service": service, "hop": hop, "port": old, "container": old_c},
               {"event": "hop.old_stopped", "mono": mono + .5, "service": service, "hop": hop, "port": old, "container": old_c}]
    return ev + [{"event": "hop.done", "mono": mono + .6, "service": service, "hop": hop, "port": new}]


def test_placements_and_hop_counts(tmp_path):
    log = tmp_path / "truth.jsonl"
    write(log, [{"event": "controller.started", "mono": 0}] + hop("web", 0, 1, None, 9001, None, "a")
          + hop("web", 1, 10, 9001, 9002, "a", "b") + hop("web", 2, 20, 9002, 9003, "b", "c"))
    t = read_truth(log)
    assert t.hops == {"web": 2}
    assert [(p.port, p.ready, p.closing, p.closed) for p in t.placements] == \
        [(9001, 1.2, 10.4, 10.5), (9002, 10.2, 20.4, 20.5), (9003, 20.2, None, None)]
    assert set(t.ports_at(15)) == {9002}
    assert set(t.ports_at(10.3)) == {9001, 9002}   # make-before-break: both open for a moment


def test_failed_start_is_only_possibly_open(tmp_path):
    log = tmp_path / "truth.jsonl"
    write(log, [{"event": "controller.started", "mono": 0},
                {"event": "hop.instance_started", "mono": 1, "service": "web", "hop": 0, "port": 9001, "container": "x"},
                {"event": "hop.start_failed", "mono": 1.5, "service": "web", "hop": 0, "port": 9001, "container": "x"}])
    (p,) = read_truth(log).placements
    assert p.ready is None and p.possibly_open(1.2, 1.3) and not p.surely_open(1.2, 1.3)


def test_new_controller_closes_what_the_killed_one_left(tmp_path):
    log = tmp_path / "truth.jsonl"
    write(log, [{"event": "controller.started", "mono": 0}] + hop("web", 0, 1, None, 9001, None, "a")
          + [{"event": "controller.started", "mono": 50}] + hop("web", 0, 51, None, 9005, None, "z"))
    t = read_truth(log)
    assert t.placements[0].closed == 50 and set(t.ports_at(60)) == {9005}


def test_sweeps_judged_against_truth(tmp_path):
    log = tmp_path / "truth.jsonl"
    write(log, [{"event": "controller.started", "mono": 0}] + hop("web", 0, 1, None, 9001, None, "a")
          + hop("web", 1, 10, 9001, 9002, "a", "b") + [{"event": "controller.stopped", "mono": 100}])
    truth = read_truth(log)
    sweeps = [
        {"sweep": 1, "scan": "ports", "start_mono": 2, "end_mono": 4, "open": [9001]},          # exact
        {"sweep": 2, "scan": "ports", "start_mono": 9, "end_mono": 11, "open": [9001]},         # hop during sweep
        {"sweep": 3, "scan": "ports", "start_mono": 9, "end_mono": 11, "open": [9002]},         # hop during sweep
        {"sweep": 4, "scan": "ports", "start_mono": 20, "end_mono": 22, "open": []},            # missed a sure port
        {"sweep": 5, "scan": "ports", "start_mono": 30, "end_mono": 32, "open": [9002, 9001]},  # reported a closed port
        {"sweep": 6, "scan": "version", "start_mono": 30, "end_mono": 32, "open": [1]},         # not a port sweep
    ]
    v = {x.sweep: x for x in judge_sweeps(truth, sweeps)}
    assert v[1].exact and v[1].ok
    assert not v[2].exact and v[2].ok and v[2].explained_by_hop == [9001, 9002]
    assert v[3].ok and v[3].exact                          # the new port, reported after the hop
    assert v[4].missed_unexplained == [9002]
    assert v[5].extra_unexplained == [9001]
    s = sweep_summary(list(v.values()))
    assert (s["sweeps"], s["exact"], s["explained_by_hop"], s["unexplained"]) == (5, 2, 1, 2)
