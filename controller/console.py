"""The management console (seed 000): an HTTP API on the management network only.

Every request must be signed (mtdlab/contract/console_auth.py); anything else gets 401 and changes
nothing. Endpoints (JSON):
  GET  /map                         each service's current port, hop, policy, paused
  POST /config {"service", "interval"?, "paused"?}   new interval law from the next hop on; pause/resume
  POST /hop {"service"}             hop now
Every accepted change is written to the truth log (console.* events); refusals too, at a bounded
rate. Bodies over MAX_BODY_BYTES get 413 unread; keyed services refuse pause and hop with 409.
"""
from __future__ import annotations

import json
import threading
import time

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from mtdlab.contract.console_auth import CONSOLE_PORT, Verifier
from mtdlab.contract.scenario import ScenarioError, parse_interval

MAX_BODY_BYTES = 64 * 1024        # a console request is a few hundred bytes; larger ones get 413 unread
REFUSALS_LOGGED_PER_MINUTE = 30   # beyond that, refusals are counted, not each written to the truth log


class RefusalLog:
    """Writes console refusals to the truth log at a bounded rate: an unauthenticated flood must
    not fill the log. What it holds back it counts, and says so in the next entry it writes."""

    def __init__(self, truth, per_minute: int = REFUSALS_LOGGED_PER_MINUTE, clock=time.monotonic):
        self.truth, self.per_minute, self.clock = truth, per_minute, clock
        self.window_start, self.written, self.suppressed = clock(), 0, 0
        self.lock = threading.Lock()

    def refused(self, **fields) -> None:
        with self.lock:
            now = self.clock()
            if now - self.window_start >= 60:
                self.window_start, self.written = now, 0
            if self.written >= self.per_minute:
                self.suppressed += 1
                return
            self.written += 1
            suppressed, self.suppressed = self.suppressed, 0
        self.truth.write("console.refused", **fields, **({"suppressed_before": suppressed} if suppressed else {}))


def create_app(hoppers: dict, verifier: Verifier, truth) -> Flask:
    app = Flask("mtdlab-console")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES   # werkzeug stops reading a body past it, too
    refusals = RefusalLog(truth)

    @app.before_request
    def authenticate():
        # Refused on the declared length, before a byte of the body is read or anything is checked.
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            refusals.refused(method=request.method, path=request.path, reason="body too large",
                             client=request.remote_addr)
            return jsonify(error=f"body larger than {MAX_BODY_BYTES} bytes"), 413, {"Connection": "close"}
        # A chunked body has no declared length, and werkzeug 2.2 (Debian's) reads it whole,
        # past MAX_CONTENT_LENGTH (256 MiB measured: bench/console_post.py). The console's
        # client always sends Content-Length.
        if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
            refusals.refused(method=request.method, path=request.path, reason="chunked body",
                             client=request.remote_addr)
            return jsonify(error="a body must have a Content-Length"), 411, {"Connection": "close"}
        reason = verifier.check(request.method, request.path, request.get_data(), request.headers)
        if reason:
            refusals.refused(method=request.method, path=request.path, reason=reason, client=request.remote_addr)
            return jsonify(error=f"unauthorized: {reason}"), 401
        return None

    def keyed_refusal(h, what: str):
        """Keyed services move on wall-clock slots that their clients compute from the key: a pause
        or a forced hop would send every direct client to a port that is not there."""
        if h.schedule.law.law == "keyed":
            return jsonify(error=f"{h.service.name} hops by keyed wall-clock slots that clients compute "
                                 f"themselves; it cannot be {what}"), 409
        return None

    def service_of(body):
        name = body.get("service") if isinstance(body, dict) else None
        if name not in hoppers:
            return None, (jsonify(error=f"unknown service {name!r}; expected one of {sorted(hoppers)}"), 400)
        return hoppers[name], None

    @app.get("/map")
    def current_map():
        out = {}
        for name, h in hoppers.items():
            p = h.current
            out[name] = {"port": p.port if p else None, "hop": p.hop if p else None,
                         "policy": h.schedule.law.describe(), "paused": h.control.paused,
                         "proxy_port": h.service.proxy_port}
        return jsonify(out)

    @app.post("/config")
    def config():
        body = request.get_json(silent=True)
        h, error = service_of(body)
        if error:
            return error
        unknown = set(body) - {"service", "interval", "paused"}
        if unknown:
            return jsonify(error=f"unknown keys {sorted(unknown)}; expected interval, paused"), 400
        if "paused" in body:   # checked before anything changes
            if not isinstance(body["paused"], bool):
                return jsonify(error="paused: expected true or false"), 400
            refusal = keyed_refusal(h, "paused or resumed")
            if refusal:
                return refusal
        if "interval" in body:
            try:
                law = parse_interval(json.dumps(body["interval"]))
            except ScenarioError as exc:
                return jsonify(error=f"interval: {exc.message}"), 400
            if (law.law == "keyed") != (h.schedule.law.law == "keyed"):
                return jsonify(error="a service cannot switch between keyed and random hopping while it runs"), 400
            h.set_law(law)
            truth.write("console.config", service=h.service.name, interval=law.describe())
        if "paused" in body:
            h.control.notify(paused=body["paused"])
            truth.write("console.config", service=h.service.name, paused=body["paused"])
        return jsonify(ok=True, policy=h.schedule.law.describe(), paused=h.control.paused)

    @app.post("/hop")
    def force_hop():
        h, error = service_of(request.get_json(silent=True))
        if error:
            return error
        refusal = keyed_refusal(h, "made to hop now")
        if refusal:
            return refusal
        h.control.notify(force=True)
        truth.write("console.hop", service=h.service.name)
        return jsonify(ok=True)

    return app


def serve(app: Flask, host: str) -> threading.Thread:
    """Serve on host:CONSOLE_PORT (the controller's management-network address) in a thread."""
    server = make_server(host, CONSOLE_PORT, app, threaded=True)
    t = threading.Thread(target=server.serve_forever, name="console", daemon=True)
    t.start()
    return t
