"""The schedule figures of make bench (mtdlab.analysis.hoplatency.schedule_summary) from a
hand-made truth log: lateness apart for hops begun ahead and begun late, intervals realised
between switches against those drawn."""
from mtdlab.analysis.hoplatency import schedule_summary


def hop(service, n, decided, due, ahead, exited, stay):
    return [{"event": "hop.decided", "service": service, "hop": n, "wall": decided, "mono": decided,
             "due_wall": due, "ahead_s": ahead, "stay_s": stay},
            {"event": "hop.old_closed", "service": service, "hop": n, "wall": exited, "mono": exited,
             "late_s": exited - due}]


def test_lateness_is_split_by_whether_the_hop_could_begin_ahead():
    events = (hop("web", 1, 9.0, 10.0, 1.0, 10.01, 5.0)        # on time
              + hop("web", 2, 14.0, 15.0, 1.0, 14.98, 5.0)     # 20 ms early
              + hop("web", 3, 19.9, 20.0, 1.0, 20.6, 5.0))     # begun 0.9 s late: no room
    figures = schedule_summary(events)
    assert figures["begun_ahead"]["n"] == 2 and figures["begun_ahead"]["on_time_share"] == 1.0
    assert figures["begun_ahead"]["max"] == 0.01
    assert figures["begun_late"]["n"] == 1 and figures["begun_late"]["max"] == 0.6
    web = figures["mean_interval_s"]["web"]
    assert web["n"] == 2 and web["drawn"] == 5.0 and abs(web["realised"] - 5.295) < 1e-9


def test_a_log_without_moments_has_no_lateness():
    events = [{"event": "hop.old_exited", "service": "ssh", "hop": 1, "wall": 3.0, "mono": 3.0}]
    figures = schedule_summary(events)
    assert figures["begun_ahead"]["n"] == 0 and figures["begun_ahead"]["max"] is None


def test_logs_from_before_hop_old_closed_read_lateness_from_hop_old_exited():
    events = [{**e, "event": "hop.old_exited"} if e["event"] == "hop.old_closed" else e
              for e in hop("web", 1, 9.0, 10.0, 1.0, 10.01, 5.0)]
    assert schedule_summary(events)["begun_ahead"]["n"] == 1


def test_a_late_switch_is_split_into_a_late_begun_close_and_a_slow_close():
    # Both closes planned 0.05 s ahead of their moment (close_ahead_s). Hop 1: the close began
    # 0.03 s late (preparing overran) and took as long as learnt. Hop 2: began on plan, took 0.08 s.
    events = []
    for n, due, began, closed in ((1, 10.0, 9.98, 10.03), (2, 15.0, 14.95, 15.03)):
        decided, old_closed = hop("redis", n, due - 1.0, due, 1.0, closed, 5.0)
        stopping = {"event": "hop.old_stopping", "service": "redis", "hop": n, "wall": began, "mono": began,
                    "close_ahead_s": 0.05}
        events += [decided, stopping, old_closed]
    parts = schedule_summary(events)["begun_ahead_parts"]
    assert parts["close_begun_late"]["n"] == 2 and parts["close_slower"]["n"] == 2
    # {0, 0.03} each, interpolated as numpy does: p50 0.015, p95 0.0285
    for part in ("close_begun_late", "close_slower"):
        assert (parts[part]["p50"], parts[part]["p95"]) == (0.015, 0.0285), part
