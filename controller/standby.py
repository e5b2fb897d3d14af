"""A service's next instance, made ahead of its hop: a warm standby.

Without one, a hop starts a container (0.2-0.5 s here) and boots the program (web: importing
gunicorn and Flask, 0.3-0.5 s) between deciding and switching. A standby is started as the hop
before it begins, with its own hop's port already drawn and held; it makes what it can
ahead (imports, host key, configuration) and then waits, listening on nothing, until the hop
opens it (SIGWINCH: services/standby.sh, services/web/start). Opening costs a signal and a bind.

A standby is invisible on the network until opened: a scanner sees its port closed. So the
truth log's hop.instance_started (the port may accept from now) is written when the hop opens
it; hop.standby_started only says that a container waits. One standby per service at most.
Whoever ends up with an unusable one (the boot thread when it failed or nobody wants it any
more, the hopper when it is for another hop, shutdown) discards it: container removed, port
released.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

from .instances import Instances, remove

READY_LINE = "standby: ready to open"   # printed by services/standby.sh and services/web/start
BOOT_TIMEOUT_S = 20.0   # start to ready-to-open; longer and the hop starts an instance afresh
STOP_CHECK_S = 0.2      # a hop waiting for its standby notices the controller stopping this soon


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


class StandbySlot:
    """The one standby a service keeps. make(standby) draws its port and starts its container
    (setting the fields as it goes, so that a failure half-way is cleaned up); release(port)
    gives a port back; log(event, **fields) writes to the truth log."""

    def __init__(self, make: Callable[[Standby], None], release: Callable[[int], None],
                 log: Callable[..., None], name: str):
        self.make, self.release, self.log, self.name = make, release, log, name
        self.lock = threading.Lock()
        self.current: Standby | None = None

    def prepare(self, hop: int) -> None:
        """Make the standby for `hop`, in the background (an older one is discarded)."""
        standby = Standby(hop)
        with self.lock:
            old, self.current = self.current, standby
        if old:
            self.discard(old)
        threading.Thread(target=self._boot, args=(standby,), daemon=True, name=f"standby-{self.name}-{hop}").start()

    def wait(self, stop: threading.Event) -> None:
        """Until the current standby is ready or failed, at most until its boot deadline or stop."""
        standby = self.current
        while standby and not stop.is_set() and (left := standby.began + BOOT_TIMEOUT_S - time.monotonic()) > 0:
            if standby.settled.wait(min(STOP_CHECK_S, left)):
                return

    def take(self, hop: int) -> Standby | None:
        """The standby for `hop` if it is ready to open (it is the caller's from now), else None
        (one that is not is discarded: the hop starts afresh)."""
        with self.lock:
            standby, self.current = self.current, None
        if standby is None:
            return None
        if standby.settled.is_set() and standby.ready and standby.hop == hop:
            return standby
        self.log("hop.standby_dropped", hop=standby.hop, port=standby.port,
                 reason="not ready to open in time" if standby.hop == hop else f"made for hop {standby.hop}")
        self.discard(standby)
        return None

    def close(self) -> None:
        """At shutdown: discard the standby (a boot still under way ends when its container goes)."""
        with self.lock:
            standby, self.current = self.current, None
        if standby:
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
            self.make(standby)
            self.log("hop.standby_started", hop=standby.hop, port=standby.port, container=standby.container.id)
            standby.ready = said(standby.container, READY_LINE)
            standby.boot_s = round(time.monotonic() - standby.began, 4)
            if not standby.ready and not standby.discarded:
                self.log("hop.standby_failed", hop=standby.hop, port=standby.port, container=standby.container.id,
                         reason=f"exited before it was ready to open; logs: {Instances.logs_tail(standby.container)}")
        except Exception as exc:   # the engine refused the start: the hop will start afresh
            if not standby.discarded:
                self.log("hop.standby_failed", hop=standby.hop, port=standby.port,
                         reason=f"{type(exc).__name__}: {exc}"[-500:])
        finally:
            with self.lock:
                unwanted = self.current is not standby or not standby.ready
                if unwanted and self.current is standby:
                    self.current = None
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
