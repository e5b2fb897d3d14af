"""The console app itself (Flask test client, no engine): oversized bodies get 413 unread, refusals
reach the truth log at a bounded rate, keyed services refuse pause and forced hops with 409, and a
`nan` timestamp is not a timestamp."""
import json
from types import SimpleNamespace

import pytest

from controller.console import MAX_BODY_BYTES, REFUSALS_LOGGED_PER_MINUTE, RefusalLog, create_app
from mtdlab.contract.console_auth import Verifier, sign, signature
from mtdlab.contract.schedule import IntervalLaw

KEY = b"k" * 32


class Truth:
    def __init__(self):
        self.events = []

    def write(self, event, **fields):
        self.events.append({"event": event, **fields})


class Control:
    def __init__(self):
        self.paused, self.forced = False, 0

    def notify(self, paused=None, force=False):
        self.paused = self.paused if paused is None else paused
        self.forced += force


def hopper(name, law):
    h = SimpleNamespace(service=SimpleNamespace(name=name, proxy_port=8080), current=None, control=Control(),
                        schedule=SimpleNamespace(law=law))
    h.set_law = lambda new: setattr(h.schedule, "law", new)
    return h


@pytest.fixture
def console():
    truth = Truth()
    hoppers = {"web": hopper("web", IntervalLaw("exponential", mean_s=5)),
               "kweb": hopper("kweb", IntervalLaw("keyed", period_s=2, grace_s=0.5, lead_s=0.5))}
    app = create_app(hoppers, Verifier(KEY), truth)
    client = app.test_client()

    def post(path, body):
        data = json.dumps(body).encode()
        return client.post(path, data=data, headers={**sign(KEY, "POST", path, data), "Content-Type": "application/json"})
    return SimpleNamespace(client=client, post=post, truth=truth, hoppers=hoppers)


def test_an_oversized_body_gets_413_before_anything_is_read(console):
    big = b"x" * (MAX_BODY_BYTES + 1)
    answer = console.client.post("/hop", data=big, headers=sign(KEY, "POST", "/hop", big))
    assert answer.status_code == 413
    assert console.truth.events[-1]["reason"] == "body too large"
    assert console.hoppers["web"].control.forced == 0


def test_a_chunked_body_gets_411_unread(console):
    # werkzeug 2.2 would read a chunked body whole, past MAX_CONTENT_LENGTH (bench/console_post.py).
    import io
    answer = console.client.post("/hop", input_stream=io.BytesIO(b"x" * (MAX_BODY_BYTES * 4)),
                                 headers={"Transfer-Encoding": "chunked"})
    assert answer.status_code == 411 and answer.headers["Connection"] == "close"
    assert console.truth.events[-1]["reason"] == "chunked body"
    assert console.hoppers["web"].control.forced == 0


def test_keyed_services_refuse_pause_and_forced_hops(console):
    assert console.post("/hop", {"service": "kweb"}).status_code == 409
    answer = console.post("/config", {"service": "kweb", "paused": True, "interval": {"law": "keyed", "slot_s": 4}})
    assert answer.status_code == 409 and "keyed" in answer.get_json()["error"]
    kweb = console.hoppers["kweb"]
    assert kweb.control.paused is False and kweb.control.forced == 0 and kweb.schedule.law.period_s == 2
    # Random hopping still pauses and hops on demand.
    assert console.post("/config", {"service": "web", "paused": True}).status_code == 200
    assert console.post("/hop", {"service": "web"}).status_code == 200
    assert console.hoppers["web"].control.paused and console.hoppers["web"].control.forced == 1


def test_refusals_are_logged_at_a_bounded_rate():
    truth, now = Truth(), [0.0]
    log = RefusalLog(truth, clock=lambda: now[0])
    for _ in range(REFUSALS_LOGGED_PER_MINUTE + 500):
        log.refused(reason="bad signature")
    assert len(truth.events) == REFUSALS_LOGGED_PER_MINUTE
    now[0] = 61.0
    log.refused(reason="bad signature")
    assert truth.events[-1]["suppressed_before"] == 500


@pytest.mark.parametrize("ts", ["nan", "inf", "1e3", "1000.5", "-1000", " 1000", "9" * 13, "١٠٠٠"])
def test_a_timestamp_is_whole_unix_seconds(ts):
    v = Verifier(KEY, clock=lambda: 1000.0)
    nonce = "n" * 16
    headers = {"X-Mtdlab-Timestamp": ts, "X-Mtdlab-Nonce": nonce,
               "X-Mtdlab-Signature": signature(KEY, "POST", "/hop", b"", ts, nonce)}
    assert v.check("POST", "/hop", b"", headers) == "bad timestamp"
