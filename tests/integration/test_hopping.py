"""The lab's core promise on the real engine: services hop make-before-break behind the proxy,
legitimate requests never fail, and the attacker's sweeps agree with the truth log."""
import threading

import pytest

from mtdlab.contract.events import read_events
from mtdlab.contract.clientlog import read_load, summarize
from mtdlab.inlab.legit import run_load
from mtdlab.inlab.probes import probe_redis, probe_ssh
from mtdlab.analysis.sweeps import judge_sweeps, sweep_summary
from mtdlab.analysis.truth import read_truth

from .conftest import events_of, hops_done

SCENARIO = """
    name: hopping
    seed: 42
    target:
      services:
        - name: web
          kind: web
          proxy_port: 8080
          hop:
            interval: {law: uniform, low_s: 1, high_s: 2}
            pool: {ranges: ["12000-12999"]}
        - name: ssh
          kind: ssh
          proxy_port: 2222
          hop:
            interval: {law: exponential, mean_s: 2}
            pool: {ranges: ["13000-13999"]}
        - name: redis
          kind: redis
          proxy_port: 6379
          hop:
            interval: {law: fixed, period_s: 2}
            pool: {ranges: ["14000-14999"]}
    attacker:
      ports: "11000-15000"
      timing: T4
      pause_s: 0.5
      version_scan: false
      max_sweeps: 40
"""


ROUND_S, MAX_ROUNDS = 10, 12
HOPS_WANTED = {"web": 8, "ssh": 5, "redis": 5}


@pytest.fixture(scope="module")
def hopping_lab(make_lab, tmp_path_factory):
    """A lab whose services hop every 1-2 s, under 20 req/s of legitimate load.

    The load runs in 10 s rounds until every service has hopped enough times (at most
    two minutes), so a slow machine gets a longer run rather than a failed count.
    """
    lab = make_lab(SCENARIO, services=("target", "proxy", "controller", "attacker"))
    lab.wait_for(lambda l: all(events_of(l, "hop.done", service=s, hop=0) for s in ("web", "ssh", "redis")),
                 "first placement of every service", 60)
    out_dir = tmp_path_factory.mktemp("legit")
    stream_checks = []

    def check_streams():
        # While the web load runs, the TCP-stream services answer through their fixed ports too.
        for _ in range(20):
            stream_checks.append((probe_ssh("127.0.0.1", lab.ports["ssh"]), probe_redis("127.0.0.1", lab.ports["redis"], password=lab.redis_password)))

    t = threading.Thread(target=check_streams)
    t.start()
    rounds = 0
    while rounds < MAX_ROUNDS and (rounds < 2 or any(hops_done(lab, s) < n for s, n in HOPS_WANTED.items())):
        run_load(f"http://127.0.0.1:{lab.ports['web']}/", rate=20, duration=ROUND_S,
                 out=out_dir / f"round-{rounds}.jsonl")
        rounds += 1
    t.join()
    lab.compose("stop", "-t", "60", "controller", "attacker")
    load = summarize([r for p in sorted(out_dir.glob("round-*.jsonl")) for r in read_load(p)])
    load["rounds"] = rounds
    return lab, load, stream_checks


def test_no_failed_proxied_request_across_hops(hopping_lab):
    lab, load, stream_checks = hopping_lab
    assert load["requests"] == 200 * load["rounds"]
    assert load["failures"] == 0, load["first_failures"]
    assert hops_done(lab, "web") >= HOPS_WANTED["web"]
    assert load["instances_seen"] >= 8          # the requests really were served by many instances
    assert len(stream_checks) == 20 and all(a.startswith("SSH-2.0-OpenSSH") and b == "+PONG" for a, b in stream_checks)


def test_make_before_break_order_in_truth_log(hopping_lab):
    lab, _, _ = hopping_lab
    events = lab.events()
    # Web, ssh and redis close their doors: the hop is done once the old port refuses; the old
    # instance then finishes what it holds and goes (hop.old_exited, hop.old_stopped), on its own time.
    order = ["hop.decided", "hop.instance_started", "hop.ready", "hop.proxy_switched",
             "hop.old_stopping", "hop.old_closed", "hop.done"]
    checked, opened_standbys = 0, []
    for service in ("web", "ssh", "redis"):
        hops = {e["hop"] for e in events if e.get("service") == service and e["event"] == "hop.done" and e["hop"] >= 1}
        assert len(hops) >= HOPS_WANTED[service], f"{service} hopped only {len(hops)} times"
        for hop in hops:
            phases = [e for e in events if e.get("service") == service and e.get("hop") == hop]
            seen = [e["event"] for e in phases if e["event"] in order]
            assert seen == order, f"{service} hop {hop}: {seen}"
            t = {e["event"]: e["mono"] for e in phases}
            assert all(t[a] <= t[b] for a, b in zip(order, order[1:]))
            # (the last hop's old instance may still be finishing at shutdown: stopped, no exit of its own)
            assert t["hop.old_closed"] <= t.get("hop.old_exited", t["hop.old_stopped"]) <= t["hop.old_stopped"]
            decided = next(e for e in phases if e["event"] == "hop.decided")
            opened_standbys.append(next(e for e in phases if e["event"] == "hop.instance_started")["standby"])
            ready = next(e for e in phases if e["event"] == "hop.ready")
            stopped = next(e for e in phases if e["event"] == "hop.old_stopped")
            assert decided["old_port"] == stopped["port"] != ready["port"]
            checked += 1
    # The controller's own shutdown removed the last instances.
    assert {e["service"] for e in events if e["event"] == "service.stopped"} == {"web", "ssh", "redis"}
    assert checked >= 15
    # Each hop after the first placement opens the instance made ahead (controller/standby.py).
    assert sum(opened_standbys) >= 0.9 * len(opened_standbys), opened_standbys


def test_attacker_sweeps_match_truth(hopping_lab):
    lab, _, _ = hopping_lab
    sweeps = [e for e in read_events(lab.run_dir / "attacker" / "observations.jsonl") if e["event"] == "sweep.done"]
    summary = sweep_summary(judge_sweeps(read_truth(lab.truth_path), sweeps))
    assert summary["sweeps"] >= 5
    assert summary["unexplained"] == 0, summary["unexplained_detail"]
    assert summary["exact"] >= 1
    xml = sorted((lab.run_dir / "attacker" / "xml").glob("*.xml"))
    assert len(xml) == len(sweeps) and all("<nmaprun" in p.read_text() for p in xml)


STANDBY = """
    name: standby
    seed: 5
    target:
      services:
        - name: web
          kind: web
          hop:
            interval: {law: fixed, period_s: 6}
            pool: {ranges: ["16000-16999"]}
"""

CONNECT = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()
    print("open")
except ConnectionRefusedError:
    print("refused")
"""


def test_a_standby_listens_on_nothing_until_its_hop_opens_it(make_lab):
    """The next hop's web instance is started and booted ahead with its port drawn, but the
    port refuses (as a scanner on the lab network sees it) until the hop opens it; then it
    serves within a fraction of a second of the decision."""
    lab = make_lab(STANDBY, services=("target", "proxy", "controller"))
    made = lab.wait_for(lambda l: events_of(l, "hop.standby_started", service="web", hop=1), "the standby for hop 1", 60)[0]
    target_ip = events_of(lab, "controller.started")[0]["target_ip"]
    controller = lab.container("controller")
    def connect(port):
        return controller.exec_run(["python3", "-c", CONNECT, target_ip, str(port)]).output.decode().strip()
    assert not events_of(lab, "hop.decided", service="web", hop=1), "the period is long enough to look first"
    assert connect(made["port"]) == "refused"
    lab.wait_for(lambda l: events_of(l, "hop.proxy_switched", service="web", hop=1), "hop 1", 30)
    started = events_of(lab, "hop.instance_started", service="web", hop=1)[0]
    assert started["standby"] is True and started["container"] == made["container"] and started["port"] == made["port"]
    assert connect(made["port"]) == "open"
    decided = events_of(lab, "hop.decided", service="web", hop=1)[0]
    switched = events_of(lab, "hop.proxy_switched", service="web", hop=1)[0]
    assert switched["mono"] - decided["mono"] < 2.0     # no container start or boot in between (~0.2 s here)
