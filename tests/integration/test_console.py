"""The management console on the real engine: signed requests change the lab and show in the
truth log; unsigned, wrong-key, tampered, stale and replayed ones get 401 and change nothing;
the attacker cannot reach the console at all."""
import json
import time

import pytest

from mtdlab.contract.console_auth import sign
from mtdlab.contract.console_client import call
from mtdlab.contract import keys

from .conftest import events_of

SCENARIO = """
    name: console
    seed: 4
    target:
      services:
        - name: web
          kind: web
          hop:
            interval: {law: fixed, period_s: 60}
            pool: {ranges: ["16000-16099"]}
        - name: ssh
          kind: ssh
          hop:
            interval: {law: fixed, period_s: 60}
            pool: {ranges: ["16100-16199"]}
    attacker: {ports: "16000-16199", version_scan: false, max_sweeps: 1}
"""


@pytest.fixture(scope="module")
def lab(make_lab):
    lab = make_lab(SCENARIO)
    lab.wait_for(lambda l: len(events_of(l, "hop.done")) == 2 and events_of(l, "console.started"), "placement", 60)
    lab.url = f"http://127.0.0.1:{lab.ports['console']}"
    lab.key = keys.parse(keys.CONSOLE, lab.console_key, "the lab's console key")
    return lab


def console_events(lab):
    return [e for e in lab.events() if e["event"] in ("console.config", "console.hop")]


def test_map_shows_current_ports(lab):
    status, body = call(lab.url, lab.key, "GET", "/map")
    assert status == 200
    placed = {e["service"]: e["port"] for e in events_of(lab, "hop.ready")}
    assert {s: body[s]["port"] for s in body} == placed
    assert body["web"]["policy"] == "fixed 60 s" and body["web"]["paused"] is False


def test_bad_requests_get_401_and_change_nothing(lab):
    before_map = call(lab.url, lab.key, "GET", "/map")[1]
    before_events = console_events(lab)
    body = {"service": "web", "interval": {"law": "fixed", "period_s": 1}}
    data = json.dumps(body).encode()
    replay = sign(lab.key, "POST", "/config", data)
    assert call(lab.url, lab.key, "POST", "/config", body, headers=replay)[0] == 200  # the original goes through once
    attempts = {
        "unsigned": {},
        "wrong key": sign(b"w" * 32, "POST", "/config", data),
        "tampered": sign(lab.key, "POST", "/config", json.dumps({"service": "ssh"}).encode()),
        "stale": sign(lab.key, "POST", "/config", data, now=time.time() - 120),
        "replayed": replay,
    }
    for name, headers in attempts.items():
        status, answer = call(lab.url, lab.key, "POST", "/config", body, headers=headers)
        assert status == 401, name
        assert answer["error"].startswith("unauthorized"), name
        status, _ = call(lab.url, lab.key, "POST", "/hop", {"service": "web"}, headers=headers)
        assert status == 401, name
    # Only the one good request changed anything.
    assert len(console_events(lab)) == len(before_events) + 1
    refused = [e for e in lab.events() if e["event"] == "console.refused"]
    assert len(refused) >= 2 * len(attempts)
    after_map = call(lab.url, lab.key, "GET", "/map")[1]
    assert after_map["ssh"] == before_map["ssh"]
    # put web back
    assert call(lab.url, lab.key, "POST", "/config", {"service": "web", "interval": {"law": "fixed", "period_s": 60}})[0] == 200


def test_forced_hop_and_pushed_policy_take_effect_in_the_truth_log(lab):
    n = len(events_of(lab, "hop.done", service="ssh"))
    status, _ = call(lab.url, lab.key, "POST", "/config", {"service": "ssh", "interval": {"law": "fixed", "period_s": 2}})
    assert status == 200
    # The pushed policy applies from the next hop: force one now, then the 2 s interval follows.
    assert call(lab.url, lab.key, "POST", "/hop", {"service": "ssh"})[0] == 200
    lab.wait_for(lambda l: len(events_of(l, "hop.done", service="ssh")) >= n + 3, "hops on the new policy", 30)
    decided = [e for e in events_of(lab, "hop.decided", service="ssh") if e["hop"] >= 1]
    assert decided[0]["policy"] == "fixed 2 s" and decided[0]["stay_s"] == 2
    assert decided[1]["mono"] - decided[0]["mono"] == pytest.approx(2, abs=0.3)
    assert events_of(lab, "console.config", service="ssh") and events_of(lab, "console.hop", service="ssh")
    # Pause: no hop while paused; resume: hops again.
    assert call(lab.url, lab.key, "POST", "/config", {"service": "ssh", "paused": True})[0] == 200
    paused_at = len(events_of(lab, "hop.decided", service="ssh"))
    time.sleep(5)   # five 2 s intervals would have passed: none may hop
    assert len(events_of(lab, "hop.decided", service="ssh")) == paused_at
    assert call(lab.url, lab.key, "POST", "/config", {"service": "ssh", "paused": False})[0] == 200
    lab.wait_for(lambda l: len(events_of(l, "hop.decided", service="ssh")) > paused_at, "a hop after resume", 10)


def test_console_rejects_bad_input(lab):
    assert call(lab.url, lab.key, "POST", "/hop", {"service": "nope"})[0] == 400
    status, body = call(lab.url, lab.key, "POST", "/config", {"service": "web", "interval": {"law": "exponential", "mean_s": 0}})
    assert status == 400 and "mean_s" in body["error"]


def test_attacker_cannot_reach_the_console(lab, client):
    controller = lab.container("controller")
    nets = controller.attrs["NetworkSettings"]["Networks"]
    addresses = [n["IPAddress"] for n in nets.values()]
    probe = ("import socket, sys\n"
             "for ip in sys.argv[1:]:\n"
             "    try:\n"
             "        socket.create_connection((ip, 7000), timeout=2).close(); print('OPEN', ip)\n"
             "    except OSError as e:\n"
             "        print('no', ip, type(e).__name__)\n")
    result = lab.compose("run", "--rm", "--no-deps", "attacker", "python3", "-c", probe, *addresses, check=False)
    assert result.returncode == 0, result.stderr
    assert "OPEN" not in result.stdout and result.stdout.count("no ") == len(addresses), result.stdout
