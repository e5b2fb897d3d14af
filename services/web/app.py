"""The protected web app: a page that says which service and which instance answered.

Instance and port come from the environment the controller sets, so a user (or a test)
can see a hop happen behind the proxy while the proxy's address stays the same.
"""
import html
import os

from flask import Flask

app = Flask(__name__)
SERVICE = os.environ.get("MTDLAB_SERVICE", "web")
INSTANCE = os.environ.get("MTDLAB_INSTANCE", "unknown")
PORT = os.environ.get("MTDLAB_PORT", "?")
FLAG = os.environ.get("MTDLAB_FLAG", "")   # class labs only: this instance's flag (mtdlab.contract.flags)


@app.after_request
def identify(response):
    # The controller's readiness probe checks this header, so another program that happens
    # to hold the port cannot pass for this instance.
    response.headers["X-Mtdlab-Instance"] = INSTANCE
    response.headers["X-Mtdlab-Service"] = SERVICE
    return response


@app.get("/")
def index():
    return (f"<!doctype html><title>mtdlab {html.escape(SERVICE)}</title>"
            f"<h1>mtdlab service {html.escape(SERVICE)}</h1>"
            f"<p>Answered by instance <code>{html.escape(INSTANCE)}</code> on target port {html.escape(PORT)}.</p>\n"
            + (f"<p>Flag: <code class=flag>{html.escape(FLAG)}</code></p>\n" if FLAG else ""))


@app.get("/health")
def health():
    return {"service": SERVICE, "instance": INSTANCE, "port": int(PORT) if PORT.isdigit() else None}
