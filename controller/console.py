"""The management console (seed 000): an HTTP API on the management network only.

Every request must be signed (mtdlab/contract/console_auth.py); anything else gets 401 and changes
nothing. Endpoints (JSON):
  GET  /map                         each service's current port, hop, policy, paused
  POST /config {"service", "interval"?, "paused"?}   new interval law from the next hop on; pause/resume
  POST /hop {"service"}             hop now
Every accepted change is written to the truth log (console.* events).
"""
from __future__ import annotations

import json
import threading

from flask import Flask, jsonify, request
from werkzeug.serving import make_server

from mtdlab.contract.console_auth import Verifier
from mtdlab.contract.scenario import ScenarioError, parse_interval

CONSOLE_PORT = 7000


def create_app(hoppers: dict, verifier: Verifier, truth) -> Flask:
    app = Flask("mtdlab-console")

    @app.before_request
    def authenticate():
        reason = verifier.check(request.method, request.path, request.get_data(), request.headers)
        if reason:
            truth.write("console.refused", method=request.method, path=request.path, reason=reason,
                        client=request.remote_addr)
            return jsonify(error=f"unauthorized: {reason}"), 401
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
            if not isinstance(body["paused"], bool):
                return jsonify(error="paused: expected true or false"), 400
            h.control.notify(paused=body["paused"])
            truth.write("console.config", service=h.service.name, paused=body["paused"])
        return jsonify(ok=True, policy=h.schedule.law.describe(), paused=h.control.paused)

    @app.post("/hop")
    def force_hop():
        h, error = service_of(request.get_json(silent=True))
        if error:
            return error
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
