"""Waiting by polling a real condition, never a fixed sleep (standard library only).

A wait is a small strategy object (after testcontainers' wait strategies): what is awaited,
one check, optionally a reason to give up early (the container died) and context for the error
(its last log lines). wait_for() polls it until it holds or the timeout passes, then raises
Timeout naming what was awaited, how often it was tried, the last reason it was not yet so,
and the context. Every polling loop of the lab goes through it.

As a program: wait until a URL answers 200 (used by `make demo`).
"""
from __future__ import annotations

import socket
import sys
import time
import urllib.request
from typing import Any, Callable


class Timeout(Exception):
    pass


class NotYet(Exception):
    """Raised by a check to say why its condition does not hold yet (kept for the timeout's message)."""


class Strategy:
    what = "a condition"

    def check(self, left: float) -> Any:
        """Something truthy once the condition holds; left: seconds until the deadline."""
        raise NotImplementedError

    def gave_up(self) -> str | None:
        """A reason to stop before the deadline (the thing waited on is gone), or None."""
        return None

    def context(self) -> str:
        """What to add to a timeout's message (a container's last log lines)."""
        return ""


def wait_for(strategy: Strategy, timeout: float, interval: float = 0.05) -> Any:
    """Poll strategy.check() until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    attempts, last = 0, ""
    while True:
        attempts += 1
        try:
            value = strategy.check(max(0.0, deadline - time.monotonic()))
            if value:
                return value
        except NotYet as exc:
            last = str(exc)
        stopped = strategy.gave_up()
        if stopped or time.monotonic() > deadline:
            why = f"gave up after {attempts} attempts: {stopped}" if stopped else \
                f"not seen after {timeout:g} s ({attempts} attempts)"
            context = strategy.context()
            raise Timeout(f"{strategy.what}: {why}" + (f"; last: {last}" if last else "")
                          + (f"; {context}" if context else ""))
        time.sleep(interval)


class Condition(Strategy):
    """Any callable; its truthy result is returned. logs(), if given, is attached to a timeout."""

    def __init__(self, fn: Callable[[], Any], what: str, logs: Callable[[], str] | None = None,
                 alive: Callable[[], bool] | None = None):
        self.fn, self.what, self.logs, self.alive = fn, what, logs, alive

    def check(self, left: float) -> Any:
        return self.fn()

    def gave_up(self) -> str | None:
        return "it exited" if self.alive is not None and not self.alive() else None

    def context(self) -> str:
        return f"logs: {self.logs()}" if self.logs else ""


class PortOpen(Strategy):
    """A TCP port accepts connections."""

    def __init__(self, host: str, port: int, what: str | None = None, logs: Callable[[], str] | None = None):
        self.host, self.port, self.logs = host, port, logs
        self.what = what or f"{host}:{port} accepting"

    def check(self, left: float) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=min(1.0, max(0.1, left))).close()
            return True
        except OSError as exc:
            raise NotYet(f"{type(exc).__name__}: {exc}") from None

    def context(self) -> str:
        return f"logs: {self.logs()}" if self.logs else ""



class PortRefuses(Strategy):
    """A TCP port refuses new connections (a reset: closed, as a scanner sees it), whatever the
    connections it already holds are doing."""

    def __init__(self, host: str, port: int, what: str | None = None):
        self.host, self.port = host, port
        self.what = what or f"{host}:{port} refusing new connections"

    def check(self, left: float) -> bool:
        try:
            socket.create_connection((self.host, self.port), timeout=min(1.0, max(0.1, left))).close()
        except ConnectionRefusedError:
            return True
        except OSError as exc:
            raise NotYet(f"{type(exc).__name__}: {exc}") from None
        raise NotYet("still accepted a connection")

class LogLine(Strategy):
    """A container's logs contain a line with text (a program saying it is listening)."""

    def __init__(self, container, text: str, what: str | None = None):
        self.container, self.text = container, text
        self.what = what or f"{text!r} in the logs of {getattr(container, 'name', container)}"

    def check(self, left: float) -> bool:
        return self.text.encode() in self.container.logs()

    def context(self) -> str:
        return "logs: " + self.container.logs(tail=5).decode(errors="replace").strip()


class HttpStatus(Strategy):
    """An HTTP URL answers with a status."""

    def __init__(self, url: str, status: int = 200):
        self.url, self.status = url, status
        self.what = f"{url} answering {status}"

    def check(self, left: float) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=min(2.0, max(0.2, left))) as r:
                if r.status == self.status:
                    return True
                raise NotYet(f"HTTP {r.status}")
        except OSError as exc:
            raise NotYet(str(exc)) from None


def until(condition: Callable[[], Any], what: str, timeout: float, interval: float = 0.05) -> Any:
    """Poll condition() until it is true; Timeout naming `what` after timeout seconds."""
    return wait_for(Condition(condition, what), timeout, interval)


def main() -> int:
    url, timeout = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 90
    try:
        wait_for(HttpStatus(url), timeout, interval=0.25)
    except Timeout as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
