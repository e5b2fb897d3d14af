"""What the controller may ask of the proxy's agent (proxy/switchd), and how.

A hop's switch needs a few steps run inside the proxy: check a candidate configuration with
`nginx -t`, reload, list or wait on old workers. Each used to be a `docker exec`: three Docker
API calls through the fence and a process the engine starts, 0.1-0.2 s each, two per switch.
The agent runs them at once on request instead. It listens on a unix socket in the configuration
folder that only the controller and the proxy mount (the proxy-conf volume): nobody else on
the lab network can reach it, and it runs only the steps check() names, their arguments
checked, never a command line it is sent.

One request a connection: a JSON line {"step": NAME, "args": [...]}; the answer is a JSON line
{"code": EXIT_CODE, "out": TEXT}, as an exec gave.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import time

SOCKET_NAME = "switchd.sock"       # in the proxy's configuration folder
MAX_LINE = 8192                    # a request or an answer; a few hundred bytes in practice
CANDIDATES = ("nginx.conf.next", "front.conf.next")   # what `test` may check
STEP_TIMEOUT_S = 10.0              # the agent's bound on any step but drained, which says its own
DRAINED_MAX_S = 600.0
ANSWER_SLACK_S = 2.0               # the controller waits this much longer than the agent's bound


class AgentError(RuntimeError):
    pass


def _seconds(text: str) -> str:
    value = float(text)
    if not 0 < value <= DRAINED_MAX_S:
        raise ValueError(f"seconds out of range: {text}")
    return f"{value:g}"


def _upstream(text: str) -> str:
    ip, port = text.rsplit(":", 1)
    try:
        ipaddress.IPv4Address(ip)
    except ValueError:
        raise ValueError(f"not an IPv4 address: {ip}") from None
    # 0.0.0.0:0 matches no connection: a first placement has no old instance to drain.
    if not 0 <= int(port) < 65536:
        raise ValueError(f"port out of range: {text}")
    return f"{ip}:{int(port)}"


def _pid(text: str) -> str:
    if not text.isdigit() or not 0 < int(text) < 2 ** 22:
        raise ValueError(f"not a PID: {text}")
    return str(int(text))


def check(step: str, args: list) -> list[str]:
    """The argument list of a request, each argument checked; ValueError says what is wrong.
    The agent maps the step to its program (proxy/switchd); this says what it may be given."""
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise ValueError("args must be a list of strings")
    if step == "test":
        if len(args) != 1 or args[0] not in CANDIDATES:
            raise ValueError(f"test takes one of {', '.join(CANDIDATES)}")
        return args
    if step in ("reload", "reload-front"):
        if args:
            raise ValueError(f"{step} takes no arguments")
        return args
    if step == "workers":
        if args not in ([], ["shutting-down"]):
            raise ValueError("workers takes nothing or shutting-down")
        return args
    if step == "drained":
        if len(args) < 3:
            raise ValueError("drained takes SECONDS IP:PORT PID...")
        return [_seconds(args[0]), _upstream(args[1]), *map(_pid, args[2:])]
    raise ValueError(f"unknown step {step!r}")


def timeout_of(step: str, args: list[str]) -> float:
    """How long the agent lets a step run."""
    return float(args[0]) + 5 if step == "drained" else STEP_TIMEOUT_S


def ask(path: str, step: str, *args: str) -> tuple[int, str]:
    """Run one step in the proxy; (exit code, output). AgentError if the agent cannot be reached
    or answers nonsense; ValueError for a request check() refuses (nothing is sent)."""
    args = check(step, [str(a) for a in args])
    wait = timeout_of(step, args) + ANSWER_SLACK_S    # the agent's answer to a step it had to end comes too
    deadline = time.monotonic() + wait
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(wait)
            s.connect(path)
            s.sendall(json.dumps({"step": step, "args": args}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n") and len(data) < MAX_LINE:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                if not (chunk := s.recv(MAX_LINE)):
                    break
                data += chunk
        answer = json.loads(data)
        return int(answer["code"]), str(answer["out"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise AgentError(f"the proxy's agent ({path}) did not answer {step}: {type(exc).__name__}: {exc}") from None
