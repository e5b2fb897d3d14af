"""Wait until a URL answers 200, polling (used by `make demo`; standard library only)."""
import sys
import time
import urllib.request


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
