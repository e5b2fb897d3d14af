"""Seed 000's banner modes on the real engine: every replacement banner in the catalogue is
named by nmap -sV as the product the catalogue says, and one run measures identification
per mode."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mtdlab.contract import labels
from mtdlab.contract.banners import BANNERS
from mtdlab.contract.catalog import SERVICE_KINDS

pytestmark = pytest.mark.integration
REPO = Path(__file__).parent.parent.parent

TARGET_ONLY = """
    name: banners
    seed: 1
    target:
      services:
        - {name: web, kind: web, hop: {interval: {law: never}, pool: {ranges: ["9001-9099"]}}}
"""


def test_nmap_believes_every_catalogue_banner(make_lab, client):
    lab = make_lab(TARGET_ONLY, services=("target",))
    target = lab.container("target")
    expected, probes, started = {}, {}, []
    port = 9200   # not 9100-9107: nmap -sV skips those (printer ports) by default
    try:
        for kind, groups in BANNERS.items():
            for banner, product in groups["common"] + groups["exotic"] + [(None, SERVICE_KINDS[kind].product)]:
                env = {"MTDLAB_SERVICE": kind, "MTDLAB_INSTANCE": f"b{port}", "MTDLAB_PORT": str(port)}
                if banner:
                    env["MTDLAB_BANNER"] = banner
                started.append(client.containers.run(
                    "mtdlab/lab:latest", SERVICE_KINDS[kind].command(port), detach=True, environment=env,
                    network_mode=f"container:{target.id}", init=True,
                    labels={labels.OWNER: labels.OWNER_VALUE, labels.LAB: lab.name, labels.ROLE: "service"}))
                expected[port], probes[port] = product, SERVICE_KINDS[kind].probe
                port += 1
        ports = ",".join(map(str, expected))
        # One version scan of all of them, from inside the lab network, once every service answers
        # its own protocol (not merely accepts): a scan of half-booted services would measure the boot.
        script = ("import json, sys, nmap\n"
                  "from mtdlab.inlab.probes import wait_ready\n"
                  "host, ports = sys.argv[1], sys.argv[2]\n"
                  "for item in sys.argv[3].split(','):\n"
                  "    port, probe = item.split(':')\n"
                  "    wait_ready(probe, host, int(port), 60)\n"
                  "r = nmap.PortScanner().scan(host, ports=ports, arguments='-sV -Pn -n -T4')\n"
                  "print(json.dumps({p: v.get('product') for p, v in r['scan'][host]['tcp'].items()}))\n")
        readiness = ",".join(f"{p}:{probe}" for p, probe in probes.items())
        ip = target.attrs["NetworkSettings"]["Networks"][f"{lab.name}_lab"]["IPAddress"]
        result = lab.compose("run", "--rm", "--no-deps", "attacker", "python3", "-c", script, ip, ports, readiness,
                             check=False)
        assert result.returncode == 0, result.stderr
        seen = {int(p): prod for p, prod in json.loads(result.stdout.strip().splitlines()[-1]).items()}
        assert seen == expected
    finally:
        for c in started:
            c.remove(force=True)


def test_banner_modes_run(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mtdlab.host.cli", "run", str(REPO / "scenarios" / "banner-modes.yaml"),
                             "--duration", "60", "--out", str(tmp_path / "run")], capture_output=True, text=True,
                            timeout=400)
    assert result.returncode == 0, result.stdout + result.stderr
    modes = json.loads((tmp_path / "run" / "summary.json").read_text())["banner_modes"]
    assert modes["static"]["version_scans"] >= 4 and modes["static"]["identified"] >= 0.9
    assert modes["static-random"]["identified"] == 0 and modes["static-random"]["deceived"] >= 0.9
    assert modes["random-random"]["identified"] == 0
    # True banners on hopping ports: the scans a hop does not interrupt still name the product.
    assert modes["random-static"]["version_scans"] >= 4 and modes["random-static"]["identified"] > 0
