"""Group commit for switches: hops of different services that switch at about the same time
share one proxy reload.

A reload is the dearest shared step of a hop (nginx -t, the reload, the new generation
confirmed: two execs into the proxy and a poll). One at a time, they queue: with many
services, or hops every second, hops wait for each other's reloads and fall behind their
moments. Here a hop that finds a reload under way puts its route in the table and waits; when
that reload ends, the next one carries every route that arrived meanwhile, and each waiting hop
gets the result (or the failure) of the reload that carried its route.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

from .nginx_conf import Route

KEEP_RESULTS = 64   # finished batches remembered; a waiter needs only the one that carried it


@dataclass(frozen=True)
class Batch:
    upto: int                        # carried every change numbered up to this one
    generation: str | None
    old_workers: frozenset
    error: Exception | None


class Switchboard:
    def __init__(self, proxy, routes):
        self.proxy, self.routes = proxy, routes
        self._cond = threading.Condition()
        self._asked = 0          # changes numbered so far
        self._busy = False       # a reload is under way
        self._batches: list[Batch] = []
        self.reloads = 0         # for the tests and the log: how many reloads carried the changes

    def switch(self, route: Route) -> tuple[Route | None, str, set[int]]:
        """Make route live; returns (the route it replaced, generation, PIDs of the workers that
        ran the configuration before). Raises what the reload raised; the route table is then
        restored for this service (the caller restores the proxy)."""
        with self._cond:
            previous = self.routes.set(route)
            self._asked += 1
            mine = self._asked
            while True:
                done = next((b for b in self._batches if b.upto >= mine), None)
                if done is not None:
                    break
                if not self._busy:
                    done = self._carry()     # this thread reloads for everyone waiting
                    break
                self._cond.wait()
            if done.error is not None:
                self.routes.restore(route.service, previous)
                raise done.error
            return previous, done.generation, set(done.old_workers)

    def _carry(self) -> Batch:
        """Called holding the condition; reloads with it released."""
        self._busy, upto, snapshot = True, self._asked, self.routes.all()
        self._cond.release()
        try:
            with self.proxy.lock:
                gen, old = self.proxy.apply(snapshot)
                self.proxy.confirm_live(gen)
            batch = Batch(upto, gen, frozenset(old), None)
        except Exception as exc:   # any failure, not just nginx's: every hop it carried is rolled back
            batch = Batch(upto, None, frozenset(), exc)
        finally:
            self._cond.acquire()
        self.reloads += 1
        self._busy = False
        self._batches = [*self._batches[-KEEP_RESULTS + 1:], batch]
        self._cond.notify_all()
        return batch
