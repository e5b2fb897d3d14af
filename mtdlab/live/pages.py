"""What the lab's two small web apps (the live view, the class's scoreboard) share: a Flask app
that sends the same strict headers with every answer, and serves its page files from a fixed
list (never a path the request names)."""
from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, abort, send_from_directory


def strict_app(name: str, content_security_policy: str) -> Flask:
    """A Flask app whose every answer carries the policy: only its own scripts, styles and
    connections, no framing, no sniffing, no referrer, nothing cached."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)   # no line per request: pages poll all day
    app = Flask(name, static_folder=None)
    headers = {"Content-Security-Policy": content_security_policy, "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

    @app.after_request
    def secure(resp):
        resp.headers.update(headers)
        return resp
    return app


def serve_page_files(app: Flask, folder: Path, names: tuple[str, ...]) -> None:
    """GET /page/NAME for each of names, from folder."""
    @app.get("/page/<name>")
    def page_file(name):
        if name not in names:
            abort(404)
        return send_from_directory(folder, name)
