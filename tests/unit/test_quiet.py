"""services/quiet, the look every door takes before it closes: it returns once nothing is queued
on the port, and waits while a connection sits in the accept queue (closing then would reset
that user's connection). Runs the script itself against a listener on loopback."""
import socket
import subprocess
from pathlib import Path

from mtdlab.contract.wait import Condition, wait_for

QUIET = Path(__file__).resolve().parents[2] / "services" / "quiet"


def test_quiet_returns_when_nothing_is_queued_and_waits_while_a_connection_is():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        assert subprocess.run([QUIET, str(port)], timeout=10).returncode == 0
        with socket.create_connection(("127.0.0.1", port)):
            waiting = subprocess.Popen([QUIET, str(port)])
            try:
                # Still looking after several of its looks: the connection is queued, not accepted.
                try:
                    waiting.wait(timeout=0.15)
                    raise AssertionError("quiet returned while a connection sat in the accept queue")
                except subprocess.TimeoutExpired:
                    pass
                accepted, _ = listener.accept()
                with accepted:
                    # Accepted: the queue is empty, and quiet returns within a few looks, well before
                    # it would give up (150 looks, about a second).
                    wait_for(Condition(lambda: waiting.poll() is not None, "quiet returns"), 0.6, 0.005)
                    assert waiting.returncode == 0
            finally:
                waiting.kill()
                waiting.wait()
