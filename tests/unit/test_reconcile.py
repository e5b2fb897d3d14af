"""Reconciliation's choices without an engine: which instance a restarted controller adopts,
how the routes are read back from the nginx.conf the controller wrote, and how the truth log
keeps an adopted placement open across the restart."""
import json
from types import SimpleNamespace

from controller.nginx_conf import Route, render
from controller.reconcile import choose, hop_of, routed_ports
from mtdlab.analysis.truth import read_truth
from mtdlab.contract import labels
from mtdlab.experiments import parse_scenario

SCENARIO = parse_scenario("""
name: r
seed: 1
target:
  services:
    - {name: web, kind: web, hop: {interval: {law: fixed, period_s: 5}, pool: {ranges: ["9000-9099"]}}}
    - {name: ssh, kind: ssh, hop: {interval: {law: fixed, period_s: 5}, pool: {ranges: ["9100-9199"]}}}
""", "r.yaml")


def instance(service, port, hop, cid=None):
    return SimpleNamespace(id=cid or f"{service}{hop}", name=f"lab-{service}-h{hop}-abc123",
                           labels={labels.ROLE: "service", labels.SERVICE: service, labels.PORT: str(port)})


def test_routes_are_read_back_from_the_generated_config():
    conf = render([Route("web", "http", 8080, "10.0.0.2", 9005, 3), Route("ssh", "stream", 2222, "10.0.0.2", 9150, 7)], "x.1")
    assert routed_ports(conf) == {"web": 9005, "ssh": 9150}
    assert routed_ports("") == {}


def test_the_routed_healthy_instance_is_adopted_else_the_newest_healthy_one():
    old, new = instance("web", 9001, 4), instance("web", 9002, 5)
    ssh_old, ssh_new = instance("ssh", 9101, 2), instance("ssh", 9102, 3)
    healthy = lambda c, kind, port: c is not ssh_old
    # web: switched to the new instance (completes the hop); ssh: routed one unhealthy -> newest healthy.
    adopted = choose(SCENARIO, [old, new, ssh_old, ssh_new], {"web": 9002, "ssh": 9101}, healthy)
    assert adopted["web"].container is new and adopted["web"].hop == 5
    assert adopted["ssh"].container is ssh_new
    # not yet switched: the old, routed instance stays (the hop is rolled back)
    adopted = choose(SCENARIO, [old, new], {"web": 9001}, lambda *a: True)
    assert adopted["web"].container is old and "ssh" not in adopted
    assert hop_of(instance("web", 1, 12)) == 12


def test_adopted_placements_stay_open_across_a_restart(tmp_path):
    def ev(event, mono, **f):
        return json.dumps({"event": event, "mono": mono, "wall": mono, **f})
    lines = [ev("controller.started", 0), ev("hop.instance_started", 1, service="web", hop=0, port=9001, container="a"),
             ev("hop.ready", 1.1, service="web", hop=0, port=9001, container="a"),
             ev("hop.instance_started", 5, service="web", hop=1, port=9002, container="b"),
             ev("controller.started", 6, reconcile=True),
             ev("controller.reconciled", 7, adopted={"web": {"container": "a", "port": 9001, "hop": 0}}, removed=[]),
             ev("service.stopped", 20, service="web", hop=0, port=9001, container="a")]
    (tmp_path / "truth.jsonl").write_text("\n".join(lines) + "\n")
    truth = read_truth(tmp_path / "truth.jsonl")
    a, b = truth.placements
    assert (a.started, a.closed) == (1, 20)      # adopted: one port life across the restart
    assert (b.started, b.closed) == (5, 7)       # the half-made instance ends when it is removed
