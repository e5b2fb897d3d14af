"""The live view from the host: `mtdlab watch RUN_DIR` (a finished run replayed, or --live to
follow one) and `mtdlab run --watch` (the run being made). Loopback only unless told."""
from __future__ import annotations

from pathlib import Path

from mtdlab.live.feed import LiveFeed, ReplayFeed
from mtdlab.live.server import LiveServer

MAX_SPEED = 1000.0


def open_server(feed, host: str, port: int, say=print) -> LiveServer:
    """The server on `port`, or on a free one when that is taken (the demo's dashboard holds 8090)."""
    try:
        return LiveServer(feed, host, port)
    except OSError as exc:
        server = LiveServer(feed, host, 0)
        say(f"watch: port {port} is taken ({exc.strerror or exc}); using {server.port}")
        return server


def watch(run_dir: Path, speed: float, live: bool, host: str, port: int, say=print) -> int:
    if not Path(run_dir).is_dir():
        say(f"mtdlab watch: {run_dir} is not a run folder")
        return 2
    if not 0 < speed <= MAX_SPEED:
        say(f"mtdlab watch: --speed must be above 0 and at most {MAX_SPEED:g}, not {speed:g}")
        return 2
    try:
        feed = LiveFeed(run_dir) if live else ReplayFeed(run_dir, speed)
    except (FileNotFoundError, OSError) as exc:
        say(f"mtdlab watch: {exc}")
        return 2
    server = open_server(feed, host, port, say)
    what = "following" if live else f"replaying at {speed:g}x"
    say(f"watch: {what} {run_dir}: open {server.url}  (Ctrl-C ends)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0
