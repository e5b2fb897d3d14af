"""The fence's body rules (fence/haproxy.cfg) read with Python's re, which agrees with PCRE on
these patterns: the body docker-py sends for a confined instance passes, and every way of
slipping a forbidden option past a key-matching rule is caught. (tests/integration/test_security.py
makes the same calls through the real haproxy.)"""
import json
import re
from pathlib import Path

import pytest

CFG = (Path(__file__).parents[2] / "fence" / "haproxy.cfg").read_text()
RULE = re.compile(r"http-request deny if (c_create METH_POST )?(!?)\{ req\.body -m (reg|sub) (-i )?'(.*)' \}")
RULES = [(bool(m.group(1)), m.group(2) == "!", m.group(3), bool(m.group(4)), m.group(5)) for m in RULE.finditer(CFG)]
ID = "a" * 64
CONFINED = {"User": "10001", "Cmd": ["sleep", "1"], "Image": f"sha256:{ID}", "HostConfig": {
    "Memory": 67108864, "ReadonlyRootfs": True, "NetworkMode": f"container:{ID}", "CapAdd": ["SETUID", "SETGID"],
    "CapDrop": ["ALL"], "SecurityOpt": ["no-new-privileges"], "PidsLimit": 32, "Init": True,
    "Tmpfs": {"/tmp": "size=16m,mode=1777"}, "LogConfig": {"Type": "json-file", "Config": {"max-size": "1m"}}}}


def denied(body: str, create: bool = True) -> bool:
    for create_only, negate, kind, nocase, pattern in RULES:
        if create_only and not create:
            continue
        hit = (pattern in body) if kind == "sub" else bool(re.search(pattern, body, re.I if nocase else 0))
        if hit != negate:
            return True
    return False


def with_host(**changes) -> str:
    return json.dumps({**CONFINED, "HostConfig": {**CONFINED["HostConfig"], **changes}})


def test_the_rules_were_all_read():
    assert len(RULES) == CFG.count("req.body -m") >= 15


def test_a_confined_instance_passes():
    assert not denied(json.dumps(CONFINED))
    # A web instance mounts its lab's http-sockets volume (controller/instances.py), nothing else.
    assert not denied(with_host(Binds=["mtdlab-demo_http-sockets:/srv/mtdlab-http:rw"]))
    assert not denied(json.dumps({"AttachStdout": True, "Privileged": False, "User": "", "Cmd": ["nginx", "-t"]}), create=False)


@pytest.mark.parametrize("body", [
    with_host(Privileged=True),
    json.dumps(CONFINED).replace('"Init"', '"privileged": true, "Init"'),                    # case folding
    json.dumps(CONFINED).replace('"Init": true', '"Privileged": false, "Privileged": true'),  # last key wins
    with_host(Binds=["/:/host"]),
    with_host(Binds=["lab_http-sockets:/srv/mtdlab-http:rw", "/:/host"]),
    with_host(Binds=["/var/lib/docker/volumes/lab_http-sockets/_data:/srv/mtdlab-http:rw"]),
    with_host(Binds=["lab_proxy-conf:/srv/mtdlab-http:rw"]),
    with_host(Binds=["lab_http-sockets:/etc:rw"]),
    json.dumps(CONFINED).replace('"Init": true', '"Binds": ["a_http-sockets:/srv/mtdlab-http:rw"], "Binds": ["/:/h"]'),
    json.dumps(CONFINED).replace('"Init"', '"B\\u0069nds": ["/:/h"], "Init"'),               # escapes
    json.dumps(CONFINED, ensure_ascii=False).replace('"Init"', '"Bind\u017f": ["/:/h"], "Init"'),  # long s folds to s
    with_host(Mounts=[{"Type": "bind", "Source": "/", "Target": "/h"}]),
    with_host(VolumesFrom=["fence"]),
    with_host(NetworkMode="host"),
    with_host(PidMode="host"),
    with_host(CapAdd=["SYS_ADMIN"]),
    with_host(CapAdd=["SETUID", "NET_ADMIN"]),
    with_host(CapDrop=[]),
    with_host(SecurityOpt=["seccomp=unconfined"]),
    with_host(SecurityOpt=["no-new-privileges", "apparmor=unconfined"]),
    with_host(ReadonlyRootfs=False),
    with_host(Memory=0),
    with_host(PidsLimit=-1),
    with_host(Devices=[{"PathOnHost": "/dev/sda"}]),
    with_host(PortBindings={"80/tcp": [{"HostPort": "80"}]}),
    json.dumps({**CONFINED, "Image": "alpine:latest"}),
    json.dumps({**CONFINED, "User": "root"}),
    json.dumps({k: v for k, v in CONFINED.items() if k != "HostConfig"}),                     # unconfined
], ids=lambda b: b[-60:])
def test_a_forbidden_option_is_refused(body):
    assert denied(body)
