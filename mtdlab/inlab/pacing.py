"""Clients that send at a set rate: paced by the clock, not by answers, so a slow answer does
not lower the rate."""
from __future__ import annotations

import time
from typing import Iterator


def paced(rate_per_s: float, duration_s: float) -> Iterator[int]:
    """Yield 0, 1, ... rate*duration - 1, each at start + i / rate."""
    start = time.monotonic()
    for i in range(int(rate_per_s * duration_s)):
        time.sleep(max(0.0, start + i / rate_per_s - time.monotonic()))
        yield i
