"""Waiting by polling a real condition, never a fixed sleep (standard library only).

until(): in code. As a program: wait until a URL answers 200 (used by `make demo`).
"""
import sys
import time
import urllib.request


class Timeout(Exception):
    pass


def until(condition, what: str, timeout: float, interval: float = 0.05) -> None:
    """Poll condition() until it is true; Timeout naming `what` after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise Timeout(f"{what} not seen after {timeout:g} s")
        time.sleep(interval)


def main() -> int:
    url, timeout = sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 90
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return 0
        except OSError as exc:
            last = str(exc)
        time.sleep(0.25)
    print(f"{url} did not answer 200 within {timeout:g} s ({last})", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
