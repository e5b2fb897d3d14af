"""The dashboard container (compose service `dashboard`): the live view of the run folder
mounted read-only at /lab/run, on port 8090 of its own network. It holds no key and is not on
the lab network. Run on the host, the same page is `mtdlab run --watch` or `mtdlab watch`."""
from __future__ import annotations

import os
import sys

from mtdlab.live.feed import LiveFeed
from mtdlab.live.server import LiveServer


def main() -> int:
    run_dir = os.environ.get("MTDLAB_RUN_DIR", "/lab/run")
    server = LiveServer(LiveFeed(run_dir), "0.0.0.0", int(os.environ.get("MTDLAB_DASHBOARD_LISTEN", "8090")))
    print(f"dashboard: serving the live view of {run_dir} on port {server.port}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
