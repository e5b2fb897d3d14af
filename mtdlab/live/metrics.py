"""/metrics: the live state in Prometheus's exposition format (prometheus_client).

A collector reads the state at scrape time, so there is one set of figures, not a second copy
kept beside the page's. Counters end in _total, durations are _seconds, service is a label.
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from mtdlab.live.state import PHASE_BUCKETS


class LiveCollector:
    def __init__(self, feed):
        self.feed = feed

    def collect(self):
        with self.feed.lock:
            state = self.feed.state
            now = state.clock()
            hops = CounterMetricFamily("mtdlab_hops", "Completed hops (hop.done, hop >= 1) by service.", labels=["service"])
            port = GaugeMetricFamily("mtdlab_service_port", "Port the proxy routes each service to now.", labels=["service"])
            for s in sorted(state.services.values(), key=lambda s: s.name):
                hops.add_metric([s.name], s.hops)
                if s.routed is not None and s.routed.closed is None:
                    port.add_metric([s.name], s.routed.port)
            phase = HistogramMetricFamily("mtdlab_hop_phase_seconds", "Duration of each hop phase (docs/events.md).",
                                          labels=["phase"])
            for name, stats in state.phases.items():
                buckets = [(f"{b:g}", n) for b, n in zip(PHASE_BUCKETS, stats.buckets)] + [("+Inf", stats.count)]
                phase.add_metric([name], buckets, stats.sum)
            requests = CounterMetricFamily("mtdlab_legit_requests", "Legitimate users' requests through the proxy.")
            requests.add_metric([], state.users["requests"])
            failures = CounterMetricFamily("mtdlab_legit_failures", "Legitimate users' requests that failed.")
            failures.add_metric([], state.users["failures"])
            sweeps = CounterMetricFamily("mtdlab_attacker_sweeps", "Attacker nmap sweeps finished.", labels=["scan"])
            observations = CounterMetricFamily("mtdlab_attacker_observations",
                                               "Per-port results the attacker's scans reported.", labels=["scan"])
            for scan in ("ports", "version"):
                sweeps.add_metric([scan], state.sweeps[scan])
                observations.add_metric([scan], state.observations[scan])
            half = GaugeMetricFamily("mtdlab_half_life_seconds",
                                     "Kaplan-Meier half-life of the attacker's observations so far (NaN: not yet seen).")
            h = state.half_life(now)
            half.add_metric([], float("nan") if h is None else h)
            skipped = CounterMetricFamily("mtdlab_log_lines_skipped", "Log lines that were not usable records.",
                                          labels=["log"])
            for source, n in state.malformed.items():
                skipped.add_metric([source], n + sum(v for k, v in state.skipped_lines.items() if _source(k) == source))
        yield from (hops, port, phase, requests, failures, sweeps, observations, half, skipped)


def _source(log: str) -> str:
    return "truth" if log.startswith("truth") else "attacker" if log.startswith("attacker") else "legit"


def registry_for(feed) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(LiveCollector(feed))
    return registry


def exposition(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)
