from mtdlab.contract.clientlog import summarize
from mtdlab.contract.stats import percentile, summary


def test_percentile_matches_linear_interpolation():
    xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert percentile(xs, 50) == 5.5 and percentile(xs, 0) == 1 and percentile(xs, 100) == 10
    assert abs(percentile(xs, 95) - 9.55) < 1e-9
    assert percentile([], 50) is None
    assert summary([2.0])["p99"] == 2.0


def test_legit_summary_counts_failures():
    recs = [{"ok": True, "latency_ms": 2.0, "instance": "a"}, {"ok": True, "latency_ms": 4.0, "instance": "b"},
            {"ok": False, "latency_ms": 1.0, "error": "ConnectionRefusedError"}]
    s = summarize(recs)
    assert (s["requests"], s["failures"], s["instances_seen"]) == (3, 1, 2)
    assert abs(s["success_rate"] - 2 / 3) < 1e-6 and s["latency_ms"]["p50"] == 3.0
