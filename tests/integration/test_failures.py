"""What goes wrong, on the real engine: a port clash, a controller killed mid-hop, an
attacker pointed outside the lab, and a lab whose owner was killed."""
import ipaddress

import docker
import pytest

from mtdlab.contract import labels
from mtdlab.experiments import parse_scenario
from mtdlab.contract.schedule import HopSchedule

from .conftest import events_of, serving

ONE_WEB = """
    name: one-web
    seed: 7
    target:
      services:
        - name: web
          kind: web
          proxy_port: 8080
          hop:
            interval: {{law: fixed, period_s: {period}}}
            pool: {{ranges: ["15000-15009"]}}
    attacker:
      ports: "15000-15009"
      version_scan: false
      max_sweeps: 1
"""


def service_containers(client, lab):
    return client.containers.list(all=True, filters={"label": [f"{labels.LAB}={lab.name}", f"{labels.ROLE}=service"]})


def test_port_clash_is_retried_and_leaves_no_container(make_lab, client):
    scenario = ONE_WEB.format(period=3)
    web = parse_scenario(scenario.replace("\n    ", "\n")).service("web")
    first_port = HopSchedule(7, "web", web.hop.interval, web.hop.pool).next_port()
    lab = make_lab(scenario, services=("target", "proxy"))
    target = lab.container("target")
    # Bound but not listening: a probe gets "refused", yet the service cannot bind the port.
    blocker = client.containers.run(
        "mtdlab/lab:latest", ["python3", "-c", f"import socket, signal; s = socket.socket(); "
                              f"s.bind(('0.0.0.0', {first_port})); print('held', flush=True); signal.pause()"],
        detach=True, network_mode=f"container:{target.id}",
        labels={labels.OWNER: labels.OWNER_VALUE, labels.LAB: lab.name, labels.ROLE: "test-blocker"})
    try:
        lab.wait_for(lambda l: b"held" in blocker.logs(), "blocker holding the port", 20)
        lab.compose("up", "-d", "controller")
        lab.wait_for(lambda l: events_of(l, "hop.done", service="web", hop=0), "first placement", 60)
        failed = events_of(lab, "hop.start_failed", service="web", hop=0)
        assert failed and failed[0]["port"] == first_port and "cannot bind" in failed[0]["reason"]
        ready = events_of(lab, "hop.ready", service="web", hop=0)[0]
        assert ready["port"] == failed[0]["next_port"] != first_port
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(failed[0]["container"])
        assert [c.id for c in serving(lab, service_containers(client, lab))] == [ready["container"]]
    finally:
        blocker.remove(force=True)


def test_controller_sigkilled_mid_hop_is_reconciled_on_restart(make_lab, client):
    lab = make_lab(ONE_WEB.format(period=2))
    # Kill the moment a hop has started its new instance but not yet stopped the old one.
    lab.wait_for(lambda l: any(e["hop"] >= 1 for e in events_of(l, "hop.instance_started")) and
                 l.events()[-1]["event"] in ("hop.instance_started", "hop.ready", "hop.proxy_switched"),
                 "a hop in progress", 60, interval=0.005)
    lab.container("controller").kill(signal="SIGKILL")
    found = service_containers(client, lab)
    orphans = {c.id for c in found}    # and the next hop's standby, made as this hop began
    assert len(serving(lab, found)) == 2, "mid-hop, the old and the new instance should both exist"
    lab.compose("up", "-d", "controller")
    reconciled = lab.wait_for(lambda l: events_of(l, "controller.reconciled"), "the restarted controller", 60)[0]
    assert events_of(lab, "controller.started")[1]["reconcile"] is True
    # One of the two is adopted (the routed one), the other removed: the hop in flight is
    # completed or rolled back, and nothing was placed afresh.
    adopted = reconciled["adopted"]["web"]["container"]
    assert {adopted} | {x["container"] for x in reconciled["removed"]} == orphans
    assert reconciled["adopted"]["web"]["in_flight"] in ("completed", "rolled back")
    remaining = service_containers(client, lab)
    assert not (orphans - {adopted}) & {c.id for c in remaining}, "what was not adopted is gone"
    assert not events_of(lab, "hop.done", service="web", hop=0)[1:], "no fresh placement"


@pytest.mark.parametrize("target", ["8.8.8.8", "127.0.0.1", "GATEWAY", "OTHER_PRIVATE"])
def test_attacker_refuses_out_of_lab_targets(make_lab, client, target):
    lab = make_lab(ONE_WEB.format(period=30), services=("target",))
    subnet = ipaddress.ip_network(client.networks.get(f"{lab.name}_lab").attrs["IPAM"]["Config"][0]["Subnet"])
    if target == "GATEWAY":      # the Docker host, as seen from the lab network
        target = str(subnet.network_address + 1)
    elif target == "OTHER_PRIVATE":  # a private address outside this lab's subnet (Docker picks the subnet)
        target = next(a for a in ("192.168.255.254", "10.255.255.254", "172.31.255.254")
                      if ipaddress.ip_address(a) not in subnet)
    result = lab.compose("run", "--rm", "-e", f"MTDLAB_TARGET={target}", "attacker", check=False)
    assert result.returncode == 3, result.stdout + result.stderr
    assert f"refusing target '{target}'" in result.stderr + result.stdout
    assert not (lab.run_dir / "attacker" / "observations.jsonl").exists()   # no scan was ever started


REAPED_OWNER = """
import sys, time
from mtdlab.host.lab import Lab
Lab(sys.argv[1], sys.argv[2], sys.argv[3]).up(("target",))
print("up", flush=True)
time.sleep(600)
"""


def test_a_lab_whose_owner_was_killed_is_reaped(client, tmp_path):
    """Like a Ryuk: `mtdlab run` killed with SIGKILL leaves its lab; the next start removes it."""
    import secrets
    import subprocess
    import sys
    from pathlib import Path

    from mtdlab.host.lab import reap_orphans
    from .conftest import lab_resources

    name = f"mtdtest-orphan-{secrets.token_hex(3)}"
    scenario = Path(__file__).parents[2] / "scenarios" / "demo.yaml"
    owner = subprocess.Popen([sys.executable, "-c", REAPED_OWNER, name, str(scenario), str(tmp_path / "run")],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "up"
    finally:
        owner.kill()
        owner.wait()
    assert lab_resources(client, name), "the killed owner's lab is still there"
    assert name in reap_orphans()
    assert not lab_resources(client, name)
