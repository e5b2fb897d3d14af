"""What the proxy's agent (proxy/switchd) may be asked: named steps, each argument checked
(mtdlab/contract/proxyagent.py). Every hop of the integration tests goes through the real agent."""
import socket
import threading

import pytest

from mtdlab.contract import proxyagent
from mtdlab.contract.proxyagent import AgentError, ask, check


def test_the_steps_a_switch_needs_are_accepted_as_given():
    assert check("test", ["nginx.conf.next"]) == ["nginx.conf.next"]
    assert check("test", ["front.conf.next"]) == ["front.conf.next"]
    assert check("reload", []) == [] and check("reload-front", []) == []
    assert check("workers", ["shutting-down"]) == ["shutting-down"]
    assert check("drained", ["15", "172.20.0.3:40001", "17", "18"]) == ["15", "172.20.0.3:40001", "17", "18"]
    # A first placement has no old instance: nothing can be connected to 0.0.0.0:0.
    assert check("drained", ["15", "0.0.0.0:0", "17"]) == ["15", "0.0.0.0:0", "17"]


@pytest.mark.parametrize("step,args,why", [
    ("test", ["../../etc/passwd"], "test takes one of"),
    ("test", ["nginx.conf"], "test takes one of"),          # the live file is never re-checked
    ("test", ["nginx.conf.next", "-g", "x"], "test takes one of"),
    ("reload", ["now"], "takes no arguments"),
    ("workers", ["all"], "workers takes"),
    ("drained", ["15", "172.20.0.3:40001"], "drained takes"),
    ("drained", ["nan", "172.20.0.3:1", "5"], "out of range"),
    ("drained", ["1e9", "172.20.0.3:1", "5"], "out of range"),
    ("drained", ["5", "example.com:1", "5"], "IPv4"),
    ("drained", ["5", "172.20.0.3:70000", "5"], "out of range"),
    ("drained", ["5", "172.20.0.3:1", "5;reboot"], "not a PID"),
    ("sh", ["-c", "id"], "unknown step"),
    ("workers", "shutting-down", "list of strings"),
])
def test_anything_else_is_refused_with_the_reason(step, args, why):
    with pytest.raises(ValueError, match=why):
        check(step, args)


def test_an_agent_that_is_not_there_is_a_clear_error(tmp_path):
    with pytest.raises(AgentError, match="did not answer workers"):
        ask(str(tmp_path / proxyagent.SOCKET_NAME), "workers")


def test_an_answer_is_read_whole_and_a_garbled_one_is_an_error(tmp_path):
    path = str(tmp_path / "a.sock")
    answers = [b'{"code": 0, "out": "17\\n18\\n"}\n', b"not json\n"]
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(2)

    def serve():
        for answer in answers:
            conn, _ = server.accept()
            with conn:
                assert conn.recv(4096).endswith(b"\n")
                conn.sendall(answer[:5])
                conn.sendall(answer[5:])
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ask(path, "workers") == (0, "17\n18\n")
    with pytest.raises(AgentError, match="JSONDecodeError"):
        ask(path, "workers", "shutting-down")
    t.join(5)
    server.close()
