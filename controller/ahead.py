"""How far ahead of its scheduled moment a hop begins, so that it switches on time.

A hop's moment is when the old port closes (hop.old_closed). Before it the new instance must be
started and ready and the proxy switched and drained (`prepare`), and stopping the old instance
takes a while too (`stop`). Both are learnt from this service's own recent hops: a hop begins
`prepare_s() + stop_s()` before its moment, and the old instance is told to stop `stop_s()`
before it. Prepare is taken at a high percentile (being early only costs the two ports a little
more overlap; being late makes the switch late), stop at its median (the error is centred).
"""
from __future__ import annotations

from collections import deque

WINDOW = 40                 # recent hops that set the estimates (the 95th percentile ignores one slow hop)
PREPARE_QUANTILE = 0.95     # another service's reload holding the proxy makes a few hops slow
MARGIN_S = 0.15             # slack after prepare (thread wake-ups, a slow docker call)
# Before this service has hopped. Prepare: a fresh start's p95 (make bench: 0.95 s; a standby's
# is 0.27 s, and beginning early costs little). Stop: a door's median close (0.044 s in the
# fast-exponential run, signal to refused); 0.2 s closed each service's first hop 0.13 s early.
FIRST_GUESS_S = {"prepare": 1.0, "stop": 0.045}
MAX_S = 5.0                 # a stuck engine must not make the lab start hops minutes early


def quantile(values, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Ahead:
    def __init__(self):
        self.prepare = deque(maxlen=WINDOW)
        self.stop = deque(maxlen=WINDOW)

    def learn(self, prepare_s: float | None = None, stop_s: float | None = None) -> None:
        if prepare_s is not None:
            self.prepare.append(prepare_s)
        if stop_s is not None:
            self.stop.append(stop_s)

    def prepare_s(self) -> float:
        if not self.prepare:
            return FIRST_GUESS_S["prepare"]
        return min(MAX_S, quantile(self.prepare, PREPARE_QUANTILE) + MARGIN_S)

    def stop_s(self) -> float:
        return min(MAX_S, quantile(self.stop, 0.5)) if self.stop else FIRST_GUESS_S["stop"]

    def begin_s(self) -> float:
        """How long before its moment a hop begins."""
        return self.prepare_s() + self.stop_s()
