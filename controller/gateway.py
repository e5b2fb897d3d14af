"""The SAPP gateway seen from the controller: started in the target's namespace, and switched
at each hop the way the nginx proxy is (same apply / confirm_live / drain interface), so a
hop stays make-before-break: new instance ready, map switched, old connections drained,
old instance stopped.

The services listen on the target's loopback, so readiness and draining are checked from
inside the namespace (docker exec of gateway.ctl), not from the controller.
"""
from __future__ import annotations

import json
import secrets
import threading

from mtdlab.contract import keys, labels
from mtdlab.inlab.launch import start_in_namespace
from mtdlab.inlab.probes import NotReady
from mtdlab.contract.wait import PortOpen, Timeout, wait_for

from .instances import exec_in
from .proxy import ProxyConfigError

CTL = ["python3", "-m", "gateway.ctl"]
DRAIN_TIMEOUT_S = 10.0


class Gateway:
    def __init__(self, container, port: int):
        self.container, self.port = container, port
        self.lock = threading.Lock()    # one map change at a time; hops of different services share it
        self.generation = 0
        self.ports: dict[str, int] = {}

    @classmethod
    def start(cls, client, image: str, target, lab: str, run_id: str, port: int, key_hex: str,
              codes: dict[str, int]) -> "Gateway":
        container = start_in_namespace(
            client, image, ["python3", "-m", "gateway.main"], name=f"{lab}-sapp-{secrets.token_hex(3)}", target=target, role="gateway",
            environment={keys.SAPP.env: key_hex, "MTDLAB_SAPP_PORT": str(port),
                         "MTDLAB_SAPP_CODES": ",".join(f"{c}={name}" for name, c in codes.items())},
            labels=labels.gateway_labels(lab, run_id, port))
        return cls(container, port)

    def wait_listening(self, target_ip: str, timeout: float = 30.0) -> None:
        """Accepting on the target's address, from the lab network (a connection without a
        preamble is dropped by the gateway, which is all this needs)."""
        try:
            wait_for(PortOpen(target_ip, self.port, f"SAPP gateway accepting on {target_ip}:{self.port}",
                              logs=lambda: self.container.logs(tail=5).decode(errors="replace")), timeout, interval=0.1)
        except Timeout as exc:
            raise RuntimeError(str(exc)) from None

    def _ctl(self, *args: str) -> tuple[int, dict]:
        code, out = exec_in(self.container, [*CTL, *args])
        out = out.strip()
        try:
            return code, json.loads(out.splitlines()[-1])
        except (ValueError, IndexError):
            return code, {"output": out[-500:]}

    def wait_ready(self, probe: str, port: int, timeout: float, alive, expect: str) -> tuple[str, int]:
        """Readiness checked inside the target's namespace, where the services listen (the gateway's
        ctl polls there; alive is not needed)."""
        code, answer = self._ctl("ready", probe, str(port), str(timeout), expect)
        if code != 0:
            raise NotReady(answer.get("reason") or str(answer))
        return answer["answer"], answer["attempts"]

    def apply(self, routes) -> tuple[str, set[int]]:
        """Make routes live; returns (generation, ports that no service uses any more)."""
        ports = {r.service: r.port for r in routes}
        code, answer = self._ctl("set", *(f"{name}={port}" for name, port in ports.items()))
        if code != 0 or answer != ports:
            raise ProxyConfigError(f"SAPP gateway map not set: {answer}")
        self.generation += 1
        left = set(self.ports.values()) - set(ports.values())
        self.ports = ports
        return str(self.generation), left

    def confirm_live(self, generation: str) -> None:
        """apply() read the map back: the next connection already uses it."""

    def drain(self, old_ports: set[int], upstream=None) -> None:
        """Until no connection to the old ports is left (the gateway counts them; upstream, the
        nginx proxy's way of naming the old instance, is not needed here)."""
        if not old_ports:
            return
        code, answer = self._ctl("drained", str(DRAIN_TIMEOUT_S), *map(str, sorted(old_ports)))
        if code != 0:
            raise ProxyConfigError(f"connections to {sorted(old_ports)} outlived {DRAIN_TIMEOUT_S:g} s: {answer}")

    def logs(self, stream: str = "stdout") -> str:
        return self.container.logs(stdout=stream == "stdout", stderr=stream == "stderr").decode(errors="replace")
