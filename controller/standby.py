"""A service's next instance, made ahead of its hop: a warm standby.

Without one, a hop starts a container (0.2-0.5 s here) and boots the program (web: importing
gunicorn and Flask, 0.3-0.5 s) between deciding and switching. A standby is started as the hop
before it begins, with its own hop's port already drawn and held; it makes what it can
ahead (imports, host key, configuration) and then waits, listening on nothing, until the hop
opens it (SIGWINCH: services/standby.sh, services/web/start). Opening costs a signal and a bind.

A standby is invisible on the network until opened: a scanner sees its port closed. So the
truth log's hop.instance_started (the port may accept from now) is written when the hop opens
it; hop.standby_started only says that a container waits. Usually one standby per service; two
when its boots take longer than its interval (1 s hops of a web service under load): the hop
after next starts booting too, and each has two intervals. Whoever ends up with an unusable one
(the boot thread when it failed or nobody wants it any more, the hopper when it is for an
earlier hop, shutdown) discards it: container removed, port released.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Callable

from .instances import Instances, remove

READY_LINE = "standby: ready to open"   # printed by services/standby.sh and services/web/start
BOOT_TIMEOUT_S = 20.0   # start to ready-to-open; longer and the hop starts an instance afresh
STOP_CHECK_S = 0.2      # a hop waiting for its standby notices the controller stopping this soon
BOOTS_KEPT = 5          # recent boots whose median says whether the hop after next needs a standby too


class Standby:
    """One made-ahead instance: the hop it is for, its port (held), banner and container."""

    def __init__(self, hop: int):
        self.hop = hop
        self.port: int | None = None
        self.banner: tuple[str, str] | None = None
        self.container = None
        self.began = time.monotonic()
        self.ready = False
        self.boot_s: float | None = None    # from the start call to ready-to-open
        self.settled = threading.Event()    # ready, or failed
        self.discarded = False


class Standbys:
    """A service's standbys, by the hop each is for. reserve(standby) draws its port and banner
    (in the caller's thread, so that draws keep the schedule's order); make(standby) starts its
    container (setting the fields as it goes, so that a failure half-way is cleaned up);
    release(port) gives a port back; log(event, **fields) writes to the truth log."""

    def __init__(self, reserve: Callable[[Standby], None], make: Callable[[Standby], None],
                 release: Callable[[int], None], log: Callable[..., None], name: str):
        self.reserve, self.make, self.release, self.log, self.name = reserve, make, release, log, name
        self.lock = threading.Lock()
        self.waiting: dict[int, Standby] = {}
        self.boots: deque[float] = deque(maxlen=BOOTS_KEPT)

    def prepare(self, hop: int) -> None:
        """Make the standby for `hop` in the background, unless there is one already."""
        with self.lock:
            if hop in self.waiting:
                return
            standby = self.waiting[hop] = Standby(hop)
        try:
            self.reserve(standby)
        except Exception as exc:   # no port to hold: the hop will start afresh
            self.log("hop.standby_failed", hop=hop, reason=f"{type(exc).__name__}: {exc}"[-500:])
            with self.lock:
                self.waiting.pop(hop, None)
            self.discard(standby)
            return
        threading.Thread(target=self._boot, args=(standby,), daemon=True, name=f"standby-{self.name}-{hop}").start()

    def slower_than(self, interval_s: float) -> bool:
        """Whether this service's standbys (median of the last few boots) take longer to boot than
        interval_s: then one made as a hop begins is not ready for the next, and the hop after
        next needs one booting too."""
        return bool(self.boots) and sorted(self.boots)[len(self.boots) // 2] > interval_s

    def get(self, hop: int) -> Standby | None:
        with self.lock:
            return self.waiting.get(hop)

    def wait(self, hop: int, stop: threading.Event) -> None:
        """Until the standby for `hop` is ready or failed, at most until its boot deadline or stop."""
        standby = self.get(hop)
        while standby and not stop.is_set() and (left := standby.began + BOOT_TIMEOUT_S - time.monotonic()) > 0:
            if standby.settled.wait(min(STOP_CHECK_S, left)):
                return

    def take(self, hop: int) -> Standby | None:
        """The standby for `hop` if it is ready to open (it is the caller's from now), else None
        (one that is not is discarded: the hop starts afresh). Any for an earlier hop is dropped;
        one for a later hop goes on waiting."""
        with self.lock:
            standby = self.waiting.pop(hop, None)
            earlier = [self.waiting.pop(h) for h in sorted(self.waiting) if h < hop]
        for old in earlier:
            self.log("hop.standby_dropped", hop=old.hop, port=old.port, reason=f"made for hop {old.hop}")
            self.discard(old)
        if standby is None:
            return None
        if standby.settled.is_set() and standby.ready:
            return standby
        self.log("hop.standby_dropped", hop=standby.hop, port=standby.port, reason="not ready to open in time")
        self.discard(standby)
        return None

    def close(self) -> None:
        """At shutdown: discard every standby (a boot still under way ends when its container goes)."""
        with self.lock:
            standbys, self.waiting = list(self.waiting.values()), {}
        for standby in standbys:
            self.discard(standby)

    def discard(self, standby: Standby) -> None:
        """Remove its container and give its port back: what is there now (a boot still making
        it discards again when it ends, and so removes what it made after this)."""
        with self.lock:
            standby.discarded = True
            container, port = standby.container, standby.port
            standby.container = standby.port = None
        if container is not None:
            remove(container)
        if port is not None:
            self.release(port)

    def _boot(self, standby: Standby) -> None:
        try:
            if standby.discarded:   # shutdown, or its hop came, before the boot began
                return
            self.make(standby)
            self.log("hop.standby_started", hop=standby.hop, port=standby.port, container=standby.container.id)
            standby.ready = said(standby.container, READY_LINE)
            standby.boot_s = round(time.monotonic() - standby.began, 4)
            if standby.ready:
                self.boots.append(standby.boot_s)
            elif not standby.discarded:
                self.log("hop.standby_failed", hop=standby.hop, port=standby.port, container=standby.container.id,
                         reason=f"exited before it was ready to open; logs: {Instances.logs_tail(standby.container)}")
        except Exception as exc:   # the engine refused the start: the hop will start afresh
            if not standby.discarded:
                self.log("hop.standby_failed", hop=standby.hop, port=standby.port,
                         reason=f"{type(exc).__name__}: {exc}"[-500:])
        finally:
            with self.lock:
                mine = self.waiting.get(standby.hop) is standby
                unwanted = not mine or not standby.ready
                if unwanted and mine:
                    del self.waiting[standby.hop]
            standby.settled.set()
            if unwanted:
                self.discard(standby)


def said(container, line: str) -> bool:
    """Follow the container's output until it prints `line` (True) or ends (False: it exited or
    was removed). One streaming call instead of polling; bounded by its removal (a standby past
    its boot deadline is discarded by the hop that wanted it) and the client's read timeout."""
    stream = container.logs(stream=True, follow=True, stdout=True, stderr=False)
    seen = b""
    try:
        for chunk in stream:
            seen = (seen + chunk)[-4096:]
            if line.encode() in seen:
                return True
        return False
    finally:
        stream.close()
