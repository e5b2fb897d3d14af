"""services/quiet, the look every door takes before it closes: it returns once nothing is queued
on the port, and waits while a connection sits in the accept queue (closing then would reset
that user's connection). Runs the script itself against a listener on loopback."""
import os
import socket
import subprocess
from pathlib import Path

import pytest

from mtdlab.contract.wait import Condition, wait_for

QUIET = Path(__file__).resolve().parents[2] / "services" / "quiet"


@pytest.fixture
def listening():
    """A listener on loopback that accepts nothing until the test does: (socket, port)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener, listener.getsockname()[1]


def test_quiet_returns_when_nothing_is_queued_and_waits_while_a_connection_is(listening):
    listener, port = listening
    assert subprocess.run([QUIET, str(port)], timeout=10).returncode == 0
    with socket.create_connection(("127.0.0.1", port)):
        waiting = subprocess.Popen([QUIET, str(port)])
        try:
            # Still looking after several of its looks: the connection is queued, not accepted.
            with pytest.raises(subprocess.TimeoutExpired):
                waiting.wait(timeout=0.15)
            accepted, _ = listener.accept()
            with accepted:
                # Accepted: the queue is empty, and quiet returns within a few looks, well before
                # it would give up (100 looks, most of a second).
                wait_for(Condition(lambda: waiting.poll() is not None, "quiet returns"), 0.6, 0.005)
                assert waiting.returncode == 0
        finally:
            waiting.kill()
            waiting.wait()


def test_with_the_proxy_named_only_its_queued_connections_hold_the_door(listening):
    """MTDLAB_PROXY_IP: users come only through the proxy; the controller's probes of the port and
    a scanner's connections (here from 127.0.0.2) must not keep the door open."""
    env = {**os.environ, "MTDLAB_PROXY_IP": "127.0.0.1"}
    listener, port = listening
    with socket.socket() as scanner:
        scanner.bind(("127.0.0.2", 0))
        scanner.connect(("127.0.0.1", port))          # queued, not from the proxy
        # Two looks, not all 100 of them (most of a second): the scanner's does not count.
        assert subprocess.run([QUIET, str(port)], env=env, timeout=0.3).returncode == 0
        with socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.1", 0)):
            waiting = subprocess.Popen([QUIET, str(port)], env=env)
            try:
                with pytest.raises(subprocess.TimeoutExpired):
                    waiting.wait(timeout=0.15)      # the proxy's connection is queued: it waits
                for _ in range(2):                  # accept both (the scanner's came first)
                    listener.accept()[0].close()
                wait_for(Condition(lambda: waiting.poll() is not None, "quiet returns"), 0.6, 0.005)
            finally:
                waiting.kill()
                waiting.wait()
