"""The lab's confinement on the real engine (docs/security.md): from inside the attacker only the
lab network is reachable (no key, no truth log, no host listener, no console, no Docker API);
the controller's Docker calls pass the fence only when allowed; every lab container runs with
the user, capabilities and limits of mtdlab.contract.hardening."""
import json
import os
import socket
import stat
import threading

import pytest

from mtdlab.contract import keys, labels
from mtdlab.contract.hardening import CONFINEMENT, LOG_OPTIONS
from mtdlab.contract.wait import until

from .conftest import events_of

SEED = 424242
SCENARIO = f"""
    name: security
    seed: {SEED}
    target:
      services:
        - name: web
          kind: web
          hop:
            interval: {{law: fixed, period_s: 60}}
            pool: {{ranges: ["17000-17099"]}}
        - name: ssh
          kind: ssh
          hop:
            interval: {{law: fixed, period_s: 60}}
            pool: {{ranges: ["17100-17199"]}}
        - name: redis
          kind: redis
          hop:
            interval: {{law: fixed, period_s: 60}}
            pool: {{ranges: ["17200-17299"]}}
        - name: ftp
          kind: ftp
          hop:
            interval: {{law: fixed, period_s: 60}}
            pool: {{ranges: ["17300-17399"]}}
    attacker: {{ports: "17000-17399", version_scan: false, max_sweeps: 500, pause_s: 2}}
"""


def run_python(container, code: str, env: dict | None = None) -> dict:
    result = container.exec_run(["python3", "-c", code], environment=env or {})
    out = result.output.decode(errors="replace")
    assert result.exit_code == 0, out
    return json.loads(out.strip().splitlines()[-1])


class HostListener:
    """A TCP listener on the host's 0.0.0.0, counting the connections it accepts."""

    def __init__(self):
        self.sock = socket.create_server(("0.0.0.0", 0))
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


@pytest.fixture(scope="module")
def lab(make_lab):
    lab = make_lab(SCENARIO, env={"MTDLAB_ATTACKER_MAX_S": "600"})   # the attacker runs throughout
    keys.write(keys.CONSOLE, lab.run_dir, lab.console_key)   # as `mtdlab run` leaves it
    lab.wait_for(lambda l: len(events_of(l, "hop.done")) == 4 and events_of(l, "console.started"), "placement", 90)
    lab.compose("up", "-d", "attacker")
    lab.wait_for(lambda l: (l.run_dir / "attacker" / "observations.jsonl").exists(), "the attacker started", 60)
    return lab


def host_addresses(client, lab) -> list[str]:
    """Every address of the host an attacker could aim at: the lab network's gateway address,
    every other Docker bridge's, and the host's own."""
    found = {"172.17.0.1"}
    for network in client.networks.list():
        for config in network.attrs.get("IPAM", {}).get("Config") or []:
            if config.get("Gateway"):
                found.add(config["Gateway"])
    for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
        found.add(info[4][0])
    return sorted(found)


def test_the_attacker_sees_only_the_network(lab, client):
    listener = HostListener()
    fence = lab.container("fence")
    fence_ip = next(iter(fence.attrs["NetworkSettings"]["Networks"].values()))["IPAddress"]
    controller = lab.container("controller")
    started = events_of(lab, "console.started")[0]
    console_ip, console_port = started["address"].split(":")
    lab_ip = next(v["IPAddress"] for k, v in controller.attrs["NetworkSettings"]["Networks"].items() if k.endswith("_lab"))
    redis = events_of(lab, "hop.ready", service="redis")[-1]
    target_ip = events_of(lab, "controller.started")[0]["target_ip"]
    targets = [(a, listener.port) for a in host_addresses(client, lab)] + [
        (fence_ip, 2375), (console_ip, int(console_port)), (lab_ip, int(console_port))]
    seen = run_python(lab.container("attacker"), f"""
import json, os, socket
files = sorted(os.path.join(r, f) for r, _, fs in os.walk("/lab") for f in fs)
def reach(host, port):
    try:
        socket.create_connection((host, port), timeout=3).close()
        return True
    except OSError:
        return False
def writable(path):
    try:
        open(path, "a").close()
        return True
    except OSError:
        return False
def status(port):
    # the proxy's status ports: which configuration is live changes at each hop; the controller's alone
    try:
        with socket.create_connection(("proxy", port), timeout=3) as s:
            s.sendall(b"GET /generation HTTP/1.0\\r\\n\\r\\n")
            return s.recv(200).decode(errors="replace").split("\\r\\n")[0]
    except OSError as exc:
        return type(exc).__name__
r = socket.create_connection(({target_ip!r}, {redis["port"]}), timeout=3)
r.sendall(b"PING\\r\\n")
redis_answer = r.recv(100).decode()
print(json.dumps({{"redis": redis_answer, "files": files, "reached": [t for t in {targets!r} if reach(*t)],
                   "socket": os.path.exists("/var/run/docker.sock"), "status": [status(8098), status(8099)],
                   "truth_writable": writable("/lab/run/truth.jsonl"),
                   "view": open("/lab/scenario/scenario.yaml").read()}}))
""")
    assert not seen["reached"], f"reachable from the attacker: {seen['reached']}"
    assert all(" 403 " in line for line in seen["status"]), seen["status"]     # no hop moments to read
    assert listener.accepted == 0
    assert not seen["socket"] and not seen["truth_writable"]
    assert seen["redis"].startswith("-NOAUTH"), seen["redis"]   # the password is the controller's
    # Its own output and the seedless view: no key, no truth log, no scenario file with the seed.
    assert all(f.startswith("/lab/run/attacker/") for f in seen["files"] if f.startswith("/lab/run")), seen["files"]
    assert not [f for f in seen["files"] if f.endswith(".key") or "truth" in f], seen["files"]
    assert f"seed: {SEED}" not in seen["view"] and "seed: 0" in seen["view"]
    # Meanwhile, the same addresses from the host side are real: the listener does answer.
    socket.create_connection(("127.0.0.1", listener.port), timeout=3).close()
    until(lambda: listener.accepted == 1, "the host's own connection accepted", 5)


FORBIDDEN = """
import json, docker
c = docker.from_env()
hold = c.containers.get("{target}")
image = hold.attrs["Image"]
confined = dict(network_mode="container:" + hold.id, user="10001", cap_drop=["ALL"], security_opt=["no-new-privileges"],
                read_only=True, mem_limit="64m", pids_limit=16)
calls = {{
    "exec into the target": lambda: hold.exec_run(["id"]),
    "exec into the proxy": lambda: c.containers.get("{proxy}").exec_run(["id"]),
    "privileged container": lambda: c.containers.run(image, ["id"], detach=True, privileged=True, **confined),
    "bind-mount /": lambda: c.containers.run(image, ["id"], detach=True, volumes={{"/": {{"bind": "/host"}}}}, **confined),
    "socket volume": lambda: c.containers.run(image, ["id"], detach=True,
                                               volumes={{"/var/run/docker.sock": {{"bind": "/s"}}}}, **confined),
    "host network": lambda: c.containers.run(image, ["id"], detach=True, **{{**confined, "network_mode": "host"}}),
    "extra capability": lambda: c.containers.run(image, ["id"], detach=True, cap_add=["SYS_ADMIN"], **confined),
    "unconfined container": lambda: c.containers.run(image, ["id"], detach=True, network_mode="container:" + hold.id),
    "list images": lambda: c.images.list(),
    "engine info": lambda: c.info(),
    "networks": lambda: c.networks.list(),
}}
out = {{}}
for name, call in calls.items():
    try:
        call()
        out[name] = "allowed"
    except docker.errors.APIError as exc:
        out[name] = exc.status_code
out["allowed: list containers"] = len(c.containers.list()) > 0
print(json.dumps(out))
"""


def test_forbidden_docker_calls_are_refused_by_the_fence(lab):
    controller = lab.container("controller")
    assert controller.exec_run(["test", "-e", "/var/run/docker.sock"]).exit_code != 0, "the controller holds no socket"
    result = run_python(controller, FORBIDDEN.format(target=lab.container("target").name,
                                                       proxy=lab.container("proxy").name))
    assert result.pop("allowed: list containers") is True
    assert result == {name: 403 for name in result}, result


def _memory_bytes(text: str) -> int:
    return int(text[:-1]) * {"k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}[text[-1]]


def test_every_lab_container_is_confined_as_documented(lab, client):
    mine = client.containers.list(all=True, filters={"label": f"{labels.COMPOSE_PROJECT}={lab.name}"}) + \
        client.containers.list(filters={"label": f"{labels.LAB}={lab.name}"})
    roles = {}
    for c in mine:
        role = c.labels.get(labels.SERVICE) if c.labels.get(labels.ROLE) == "service" else c.labels[labels.ROLE]
        row = CONFINEMENT[{"web": "web", "ssh": "ssh", "redis": "redis", "ftp": "ftp"}.get(role, role)]
        host = c.attrs["HostConfig"]
        user = f"{os.getuid()}:{os.getgid()}" if row.user == "host" else row.user
        assert c.attrs["Config"]["User"] == user, (role, c.attrs["Config"]["User"])
        assert host["CapDrop"] == ["ALL"], role
        assert sorted(host["CapAdd"] or []) == sorted(row.caps), (role, host["CapAdd"])
        assert "no-new-privileges" in host["SecurityOpt"], role
        assert host["ReadonlyRootfs"] is True, role
        assert host["Privileged"] is False, role
        assert host["Memory"] == _memory_bytes(row.memory), (role, host["Memory"])
        assert host["PidsLimit"] == row.pids, (role, host["PidsLimit"])
        assert host["LogConfig"]["Config"] == LOG_OPTIONS, role
        roles[role] = c.attrs["Config"]["User"]
    assert {"target", "proxy", "fence", "controller", "attacker", "web", "ssh", "redis", "ftp"} <= set(roles), roles
    # Only the fence mounts the Docker socket; the attacker mounts only its folder and the view.
    for c in mine:
        sources = {m["Source"] for m in c.attrs["Mounts"]}
        assert ("/var/run/docker.sock" in sources) == (c.labels[labels.ROLE] == "fence"), c.name
    attacker = {m["Destination"] for m in lab.container("attacker").attrs["Mounts"]}
    assert attacker == {"/lab/run/attacker", "/lab/scenario"}, attacker


def test_run_files_belong_to_the_host_user_with_their_umask(lab):
    truth = os.stat(lab.truth_path)
    assert (truth.st_uid, truth.st_gid) == (os.getuid(), os.getgid())
    mask = os.umask(0o022)
    os.umask(mask)
    assert stat.S_IMODE(truth.st_mode) & (mask | 0o002) == 0, oct(truth.st_mode)
