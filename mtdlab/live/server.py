"""The live view's web server: the page, its server-sent events, the view as JSON, /metrics.

GET only; it reads the feed's state and nothing else. Each page holds one event stream; the
server pushes the view as soon as a log line changed it (at most every PUSH_MIN_S) and at
least every PUSH_MAX_S, so the "now" line keeps moving when nothing happens. The page's
files are in dashboard/page/ (no CDN, no external font: it works offline).
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from flask import Flask, Response, send_from_directory
from werkzeug.serving import make_server

from mtdlab.live.metrics import exposition, registry_for
from mtdlab.live.pages import serve_page_files, strict_app

PAGE_DIR = Path(__file__).resolve().parents[2] / "dashboard" / "page"   # the repository's or the image's
PUSH_MIN_S = 0.1
PUSH_MAX_S = 1.0
MAX_STREAMS = 16     # pages open at once (each holds a thread)
STREAM_MAX_S = 6 * 3600   # a page reconnects on its own after this (EventSource retries)

# Everything the page needs comes from here; no inline script, no other origin.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                           "connect-src 'self'; frame-ancestors 'none'")


def make_app(feed) -> Flask:
    app = strict_app("mtdlab.live", CONTENT_SECURITY_POLICY)
    serve_page_files(app, PAGE_DIR, ("live.js", "live.css"))
    registry = registry_for(feed)
    streams = threading.BoundedSemaphore(MAX_STREAMS)

    @app.get("/")
    def index():
        return send_from_directory(PAGE_DIR, "index.html")

    @app.get("/favicon.ico")
    def favicon():
        return Response(status=204)

    @app.get("/view.json")
    def view():
        return Response(json.dumps(feed.view()), mimetype="application/json")

    @app.get("/metrics")
    def metrics():
        return Response(exposition(registry), mimetype="text/plain; version=0.0.4; charset=utf-8")

    @app.get("/healthz")
    def healthz():
        return {"ok": True, "version": feed.version}

    @app.get("/events")
    def events():
        if not streams.acquire(blocking=False):
            return Response("too many open pages\n", status=503, mimetype="text/plain")

        def stream():
            try:
                seen, began = -1, time.monotonic()
                yield "retry: 1000\n\n"
                while time.monotonic() - began < STREAM_MAX_S:
                    seen = feed.wait_change(seen, PUSH_MAX_S)
                    yield f"data: {json.dumps(feed.view(), separators=(',', ':'))}\n\n"
                    time.sleep(PUSH_MIN_S)   # changes in this pause go out together with the next push
            finally:
                streams.release()
        return Response(stream(), mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})

    return app


class LiveServer:
    """The app on a werkzeug server in a thread of its own (for `mtdlab run --watch`), or in front."""

    def __init__(self, feed, host: str, port: int):
        self.feed = feed
        self.server = make_server(host, port, make_app(feed), threaded=True)
        self.server.daemon_threads = True
        self.host, self.port = host, self.server.server_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> "LiveServer":
        self.feed.start()
        threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True).start()
        return self

    def serve_forever(self) -> None:
        self.feed.start()
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.shutdown()
        self.feed.stop()
