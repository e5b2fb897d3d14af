"""A lab's rendered compose configuration as a Swarm stack (mtdlab/host/stack.py), checked without an
engine: the same containers, users, capabilities and limits; keys as secrets, not variables; every
service pinned to the anchor's node; no port published by Swarm; the start order compose uses. The
rendering is the compose tool's own (`config`), so both of compose.yaml's files are read as they
ship; the fence lets the controller exec into a stack's proxy task and nothing more."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from mtdlab.contract import keys, labels
from mtdlab.host import stack
from mtdlab.host.engines import reservation
from mtdlab.host.lab import LabError

ROOT = Path(__file__).parents[2]
KEY = "ab" * 32
CLASS_NETS = {f"MTDLAB_NET_{n}": f"10.9.{i}.0/24" for i, n in enumerate(("LAB", "EDGE", "MGMT", "API", "RANGE"))}


def rendered(*files: str, **env) -> dict:
    """What the compose tool makes of the lab's files with these variables (as SwarmLab reads it)."""
    tool = ["docker", "compose"] if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0 \
        else [shutil.which("docker-compose") or pytest.skip("no compose tool")]
    args = [a for f in files for a in ("-f", str(ROOT / f))]
    result = subprocess.run([*tool, *args, "-p", "mtdt", "config"], capture_output=True, text=True, check=True,
                            env={"PATH": "/usr/bin:/bin:/usr/local/bin", "MTDLAB_RUN_DIR": "/srv/run",
                                 "MTDLAB_UID": "1000", "MTDLAB_GID": "1000", **env})
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def demo():
    return rendered("compose.yaml", MTDLAB_CONSOLE_KEY=KEY, MTDLAB_REDIS_PASSWORD="cd" * 32)


@pytest.fixture(scope="module")
def team():
    return rendered("compose.yaml", "compose.class.yaml", MTDLAB_WORKSTATION_PASSWORD_HASH="$6$salt$hash",
                    MTDLAB_FLAG_KEY=KEY, MTDLAB_WORKSTATION_PORT="21005", MTDLAB_CLASS_BIND="0.0.0.0", **CLASS_NETS)


def test_every_service_keeps_its_user_capabilities_limits_and_read_only_root(demo):
    spec = stack.translate(demo, "mtdt", sorted(demo["services"]), node="n1")
    assert spec["version"] == stack.STACK_VERSION
    for name, src in demo["services"].items():
        svc = spec["services"][name]
        assert svc["image"] == src["image"] and svc["user"] == src["user"] and svc["read_only"] is True
        assert svc["cap_drop"] == ["ALL"] and svc.get("cap_add") == src.get("cap_add")
        assert svc["deploy"]["resources"]["limits"] == {"memory": str(src["mem_limit"]), "pids": src["pids_limit"]}
        assert svc["deploy"]["restart_policy"] == {"condition": "none"}
        assert svc["deploy"]["endpoint_mode"] == "dnsrr"
        assert {"type": "tmpfs", "target": "/tmp", "tmpfs": {"size": 16 * 2**20}} in svc["volumes"]
        # Found by the same labels as locally: the controller, remove_lab and the tests need no other way.
        assert svc["labels"][labels.COMPOSE_PROJECT] == "mtdt" and svc["labels"][labels.COMPOSE_SERVICE] == name
        assert svc["labels"][labels.ROLE] == src["labels"][labels.ROLE]
        assert "ports" not in svc and "security_opt" not in svc and "build" not in svc and "depends_on" not in svc
    assert spec["services"]["attacker"]["cap_add"] == ["NET_RAW"]
    assert {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "read_only": True} \
        in spec["services"]["fence"]["volumes"]


def test_keys_become_secrets_owned_by_the_containers_user_and_leave_the_environment(demo, team):
    spec = stack.translate(demo, "mtdt", ["controller"], node="n1")
    controller = spec["services"]["controller"]
    assert keys.CONSOLE.env not in controller["environment"] and keys.REDIS.env not in controller["environment"]
    assert KEY not in yaml.safe_dump(spec)
    assert controller["secrets"] == [
        {"source": "mtdt_mtdlab_console_key", "target": keys.CONSOLE.env, "uid": "1000", "gid": "1000", "mode": 0o400},
        {"source": "mtdt_mtdlab_redis_password", "target": keys.REDIS.env, "uid": "1000", "gid": "1000", "mode": 0o400}]
    assert controller["environment"]["MTDLAB_SECRETS"] == stack.SECRETS_DIR
    assert spec["secrets"] == {"mtdt_mtdlab_console_key": {"external": True}, "mtdt_mtdlab_redis_password": {"external": True}}
    # An empty key (a lab without keyed hopping) is no secret; the variable stays empty.
    assert controller["environment"][keys.KEYED.env] == ""
    assert stack.secret_values(demo) == {keys.CONSOLE.env: KEY, keys.REDIS.env: "cd" * 32}
    # A password hash's `$`s are the hash's, not the rendering's `$$`.
    assert stack.secret_values(team)["MTDLAB_WORKSTATION_PASSWORD_HASH"] == "$6$salt$hash"
    ws = stack.translate(team, "mtdt", ["workstation"], node="n1")["services"]["workstation"]
    assert ws["secrets"][0]["target"] == "MTDLAB_WORKSTATION_PASSWORD_HASH" and ws["secrets"][0]["uid"] == "2000"
    assert "MTDLAB_WORKSTATION_PASSWORD_HASH" not in ws["environment"]


def test_the_anchor_is_placed_by_the_scheduler_with_the_reservation_and_the_rest_pinned_to_its_node(demo):
    first = stack.translate(demo, "mtdt", ["target"], node=None, reservation={"cpus": 0.5, "memory": 2**28})
    target = first["services"]["target"]["deploy"]
    assert "placement" not in target and target["resources"]["reservations"] == {"cpus": "0.5", "memory": str(2**28)}
    rest = stack.translate(demo, "mtdt", ["proxy", "controller"], node="n1", reservation={"cpus": 0.5, "memory": 2**28})
    for svc in rest["services"].values():
        assert svc["deploy"]["placement"] == {"constraints": ["node.id == n1"]}
        assert "reservations" not in svc["deploy"]["resources"]


def test_networks_are_attachable_overlays_internal_where_the_local_ones_are(team):
    spec = stack.translate(team, "mtdt", sorted(team["services"]), node="n1")
    assert set(spec["networks"]) == {"lab", "edge", "mgmt", "api", "range"}
    for name, net in spec["networks"].items():
        assert net["driver"] == "overlay" and net["attachable"] is True
        assert net["internal"] == bool(team["networks"][name].get("internal"))
        assert "ipam" not in net and "driver_opts" not in net
    assert {n for n, v in spec["networks"].items() if v["internal"]} == {"lab", "api", "range"}
    assert set(spec["services"]["workstation"]["networks"]) == {"range"}
    # Volumes carry the lab's labels, so remove_lab finds them on the node.
    assert spec["volumes"]["proxy-conf"]["labels"][labels.COMPOSE_PROJECT] == "mtdt"
    # The web instances' sockets are in memory on the node too, writable by every user that mounts it.
    assert spec["volumes"]["http-sockets"]["driver_opts"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=1m,mode=1777"}
    # A workstation's home: Swarm's tmpfs takes a size only (docs/swarm.md).
    home = next(m for m in spec["services"]["workstation"]["volumes"] if m["target"] == "/home/student")
    assert home == {"type": "tmpfs", "target": "/home/student", "tmpfs": {"size": 64 * 2**20}}


def test_published_ports_are_the_relays_and_keep_their_addresses(demo, team):
    ports = {(p.service, p.host_ip, p.target) for p in stack.published_ports(demo)}
    assert ports == {("proxy", "127.0.0.1", 8080), ("proxy", "127.0.0.1", 2222), ("proxy", "127.0.0.1", 6379),
                     ("controller", "127.0.0.1", 7000), ("dashboard", "127.0.0.1", 8090)}
    door = [p for p in stack.published_ports(team) if p.service == "door"]
    assert [(p.host_ip, p.host_port, p.target) for p in door] == [("0.0.0.0", 21005, 2222)]
    # Both syntaxes the compose tools render (v1 short, v2 long).
    long = {"services": {"s": {"ports": [{"host_ip": "127.0.0.1", "published": "9000", "target": 80, "protocol": "tcp"}]}}}
    assert stack.published_ports(long) == [stack.Published("s", "127.0.0.1", 9000, 80)]
    with pytest.raises(stack.StackError, match="publishes no host port"):
        stack.published_ports({"services": {"s": {"ports": ["80"]}}})


def test_services_start_after_what_they_depend_on_as_compose_up_starts_them(demo, team):
    assert stack.start_order(demo, ("target", "proxy", "controller")) == [["fence", "proxy", "target"], ["controller"]]
    assert stack.start_order(demo, ("attacker",)) == [["fence", "proxy", "target"], ["controller"], ["attacker"]]
    layers = stack.start_order(team)
    assert layers[0] == ["dashboard", "fence", "proxy", "target", "workstation"]
    assert ["controller", "door", "users"] == layers[1] and layers[2] == ["attacker"]
    with pytest.raises(stack.StackError, match="no such service"):
        stack.start_order(demo, ("nope",))
    with pytest.raises(stack.StackError, match="circle"):
        stack.start_order({"services": {"a": {"depends_on": ["b"]}, "b": {"depends_on": ["a"]}}})


def test_a_program_reads_its_keys_from_the_secret_files(tmp_path):
    (tmp_path / keys.CONSOLE.env).write_text(KEY + "\n")
    (tmp_path / "unrelated").write_text("x")
    env = {"MTDLAB_SECRETS": str(tmp_path)}
    assert keys.env_from_secrets(env) == [keys.CONSOLE.env]
    assert keys.from_env(keys.CONSOLE, env) == bytes.fromhex(KEY)
    assert keys.env_from_secrets({}) == []   # locally: the variables are already there


def test_a_reservation_is_checked_before_anything_starts():
    assert reservation(None, None) is None
    assert reservation(1, 512) == {"cpus": 1, "memory": 512 * 2**20}
    with pytest.raises(LabError, match="--lab-cpus: expected 0.05 to 64 cores, got 0"):
        reservation(0, None)
    with pytest.raises(LabError, match="--lab-memory-mib"):
        reservation(None, 1)


def test_the_fence_lets_the_controller_exec_into_a_sapp_gateway_and_nothing_else():
    # Not the proxy, on either engine: its agent (proxy/switchd) runs a switch's steps.
    acl = re.search(r"acl c_exec path_reg (\S+)", (ROOT / "fence" / "haproxy.cfg").read_text()).group(1)
    ok = ["/v1.41/containers/lab-sapp-0a1b2c/exec", "/containers/mtdrun-x-sapp-ffffff/exec"]
    refused = ["/v1.41/containers/lab_controller.1.jny650y27lbjdqnrafzfvvwmx/exec",
               "/v1.41/containers/lab_proxy_1/exec", "/v1.41/containers/lab-proxy-1/exec",
               "/v1.41/containers/mtdclass-c-red_proxy.1.jny650y27lbjdqnrafzfvvwmx/exec",
               "/v1.41/containers/lab-sapp-0a1b2c/x/exec", "/v1.41/containers/lab-sapp-0a1b2/exec"]
    assert all(re.search(acl, p) for p in ok) and not any(re.search(acl, p) for p in refused)
