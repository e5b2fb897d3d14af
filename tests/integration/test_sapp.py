"""Seed 000's one port for all (SAPP) on the real engine: the target shows one port, which
gives nothing to a connection without a valid preamble, while legitimate clients reach every
service through it across hops."""
import json
import secrets
import subprocess
import sys
import textwrap

import pytest

from mtdlab.contract import labels

from .conftest import events_of

pytestmark = pytest.mark.integration

SERVICES = """
    name: it-sapp
    seed: 3
    target:
      sapp: {port: 28888}
      services:
        - {name: web, kind: web, hop: {interval: {law: uniform, low_s: 2, high_s: 4}, pool: {ranges: ["20000-21999"]}}}
        - {name: ssh, kind: ssh, hop: {interval: {law: uniform, low_s: 2, high_s: 4}, pool: {ranges: ["22000-23999"]}}}
        - {name: redis, kind: redis, hop: {interval: {law: fixed, period_s: 3}, pool: {ranges: ["24000-25999"]}}}
        - {name: ftp, kind: ftp, hop: {interval: {law: exponential, mean_s: 3}, pool: {ranges: ["26000-27999"]}}}
"""
RUN = SERVICES + """
    attacker: {ports: "1-65535", timing: T4, pause_s: 0.5, version_scan: true}
    sapp_client: {rate_per_s: 20}
"""

# Runs in the attacker's container, on the lab network: each way in that lacks a valid
# preamble must get no byte back and be closed; then a valid one reaches the web service,
# and replaying that same preamble gets nothing.
PROBE = r"""
import json, os, socket, sys, time
from mtdlab.contract.sapp import make_preamble
host, port, key, web_port = sys.argv[1], int(sys.argv[2]), bytes.fromhex(sys.argv[3]), int(sys.argv[4])

def attempt(payload, wait=4.0):
    s = socket.create_connection((host, port), 2)
    s.settimeout(wait)
    if payload:
        s.sendall(payload)
    t0, data = time.monotonic(), b""
    try:
        while chunk := s.recv(4096):
            data += chunk
    except socket.timeout:
        return {"bytes": len(data), "closed": False}
    finally:
        s.close()
    return {"bytes": len(data), "closed": True, "after_s": round(time.monotonic() - t0, 2), "head": data[:40].decode(errors="replace")}

valid = make_preamble(key, 1)
out = {
    "nothing": attempt(b""),
    "http": attempt(b"GET / HTTP/1.0\r\n\r\n"),
    "random": attempt(os.urandom(34)),
    "wrong_key": attempt(make_preamble(bytes(32), 1) + b"GET / HTTP/1.0\r\n\r\n"),
    "stale": attempt(make_preamble(key, 1, now=time.time() - 60) + b"GET / HTTP/1.0\r\n\r\n"),
    "unknown_service": attempt(make_preamble(key, 9) + b"GET / HTTP/1.0\r\n\r\n"),
    "valid": attempt(valid + b"GET / HTTP/1.0\r\n\r\n"),
    "replayed": attempt(valid + b"GET / HTTP/1.0\r\n\r\n"),
}
try:
    socket.create_connection((host, web_port), 2).close()
    out["service_port_direct"] = "open"
except OSError as exc:
    out["service_port_direct"] = type(exc).__name__
print(json.dumps(out))
"""


def test_gateway_gives_nothing_without_a_valid_preamble(make_lab, client):
    key = secrets.token_hex(32)
    lab = make_lab(SERVICES, env={"MTDLAB_SAPP_KEY": key})
    lab.wait_for(lambda l: all(events_of(l, "hop.done", service=s, hop=0) for s in ("web", "ssh", "redis", "ftp")),
                 "first placement of every service", 90)
    started = next(e for e in lab.events() if e["event"] == "controller.started")
    web_port = events_of(lab, "hop.done", service="web")[-1]["port"]
    result = lab.compose("run", "--rm", "--no-deps", "attacker", "python3", "-c", textwrap.dedent(PROBE),
                         started["target_ip"], "28888", key, str(web_port), check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    for case in ("nothing", "http", "random", "wrong_key", "stale", "unknown_service", "replayed"):
        assert seen[case]["bytes"] == 0 and seen[case]["closed"], (case, seen[case])
    assert seen["valid"]["head"].startswith("HTTP/1.0 200 OK"), seen["valid"]
    # The service's own port is on the target's loopback: the lab network cannot reach it.
    assert seen["service_port_direct"] == "ConnectionRefusedError"
    gateway = client.containers.list(filters={"label": [f"{labels.LAB}={lab.name}", f"{labels.ROLE}=gateway"]})
    assert len(gateway) == 1
    records = [json.loads(line) for line in gateway[0].logs().decode().splitlines() if line.startswith("{")]
    reasons = [r["reason"] for r in records if r.get("accepted") is False]
    for expected in ("no preamble in time", "tag does not match", "clock off", "no such service placed",
                     "session replayed"):
        assert any(r.startswith(expected) for r in reasons), (expected, reasons)


def test_sapp_run_shows_one_port_and_serves_every_service(tmp_path):
    (tmp_path / "s.yaml").write_text(textwrap.dedent(RUN))
    result = subprocess.run([sys.executable, "-m", "mtdlab.host.cli", "run", str(tmp_path / "s.yaml"), "--duration", "60",
                             "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    s = summary["sapp"]
    # The attacker's full-range sweeps found one port, and nmap -sV named no service behind it
    # ("tcpwrapped" is nmap's word for "accepted, then closed without a byte").
    assert s["attacker"]["port_sweeps"] >= 3 and s["attacker"]["open_ports_seen"] == [28888]
    assert s["attacker"]["version_scan_results"], "no version scan finished"
    for v in s["attacker"]["version_scan_results"]:
        assert v["port"] == 28888 and v["product"] is None and v["service"] in (None, "unknown", "tcpwrapped"), v
    assert summary["sweeps"]["unexplained"] == 0
    # Legitimate clients reached every service through the one port, across the hops.
    assert s["client"]["failures"] == 0, s["client"]["first_failures"]
    for name, row in s["client"]["by_service"].items():
        assert row["requests"] >= 150 and row["success_rate"] == 1.0 and row["hops"] >= 5, (name, row)
    assert s["gateway"]["accepted"] >= s["client"]["requests"]
    assert (tmp_path / "run" / "sapp.key").stat().st_mode & 0o077 == 0
    assert "SAPP client success rate" in (tmp_path / "run" / "report.html").read_text()
