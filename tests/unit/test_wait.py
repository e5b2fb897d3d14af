"""Wait strategies (mtdlab.contract.wait): poll a real condition; a timeout names what was awaited, how
often it was tried, why it was not yet so, and the context (a container's last log lines)."""
import http.server
import socket
import threading
import time

import pytest

from mtdlab.inlab.probes import NotReady, wait_ready
from mtdlab.contract.wait import Condition, HttpStatus, LogLine, NotYet, PortOpen, Strategy, Timeout, until, wait_for


def test_condition_returns_the_value_and_times_out_with_context():
    calls = []
    assert wait_for(Condition(lambda: calls.append(1) or (len(calls) >= 3 and "done"), "three calls"), 5,
                    interval=0.001) == "done"
    with pytest.raises(Timeout, match=r"never: not seen after 0.05 s \(\d+ attempts\); logs: the tail"):
        wait_for(Condition(lambda: False, "never", logs=lambda: "the tail"), 0.05, interval=0.01)
    with pytest.raises(Timeout, match="gone: gave up after 1 attempts: it exited"):
        wait_for(Condition(lambda: False, "gone", alive=lambda: False), 30)
    with pytest.raises(Timeout, match="plain: not seen"):
        until(lambda: False, "plain", 0.02)


def test_the_last_reason_is_kept():
    class Counting(Strategy):
        what = "a count of 10"
        n = 0

        def check(self, left):
            self.n += 1
            raise NotYet(f"only {self.n}")
    with pytest.raises(Timeout, match=r"last: only \d+"):
        wait_for(Counting(), 0.05, interval=0.01)


def test_port_open_and_protocol_answers():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(Timeout, match=f"127.0.0.1:{port} accepting: not seen .* last: ConnectionRefusedError"):
            wait_for(PortOpen("127.0.0.1", port), 0.1, interval=0.02)
        s.listen()
        assert wait_for(PortOpen("127.0.0.1", port), 2)
    # A probe that never hears its protocol says so, and a dead instance ends the wait at once.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(NotReady, match="redis answering .* gave up .* the instance exited"):
            wait_ready("redis", "127.0.0.1", s.getsockname()[1], 30, alive=lambda: False)


def test_log_line_and_http_status():
    class FakeContainer:
        name = "xhop"
        text = b"starting\n"

        def logs(self, tail=None):
            return self.text
    box = FakeContainer()
    with pytest.raises(Timeout, match="logs: starting"):
        wait_for(LogLine(box, "xhop.listening"), 0.05, interval=0.01)
    box.text += b'{"event": "xhop.listening"}\n'
    assert wait_for(LogLine(box, "xhop.listening"), 1)

    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        assert wait_for(HttpStatus(url + "/"), 5)
        with pytest.raises(Timeout, match="answering 200: not seen .* last: HTTP Error 404"):
            wait_for(HttpStatus(url + "/missing"), 0.1, interval=0.02)
    finally:
        server.shutdown()


def test_readiness_looks_often_but_asks_the_engine_seldom():
    """A refused port is probed every READY_POLL_S; whether the instance still runs (an engine
    call) is asked at most every ALIVE_EVERY_S, and its death still ends the wait."""
    from mtdlab.inlab.probes import ALIVE_EVERY_S, READY_POLL_S
    asked = []

    def alive():
        asked.append(time.monotonic())
        return len(asked) < 3
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))   # bound, not listening: refused
        began = time.monotonic()
        with pytest.raises(NotReady, match="the instance exited") as exc:
            wait_ready("redis", "127.0.0.1", s.getsockname()[1], 30, alive=alive)
    gaps = [b - a for a, b in zip([began] + asked, asked)]
    assert len(asked) == 3 and min(gaps) >= ALIVE_EVERY_S
    attempts = int(str(exc.value).split("after ")[1].split()[0])
    assert attempts > len(asked) and READY_POLL_S < ALIVE_EVERY_S
