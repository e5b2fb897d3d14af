"""The attacker's parser, on real nmap XML (a version scan of the lab's own target)."""
from pathlib import Path

import nmap

from attacker.observe import observations, open_ports

XML = (Path(__file__).parent.parent / "fixtures" / "nmap" / "version-scan.xml").read_text()


def test_version_scan_xml_becomes_observations():
    # python-nmap's own XML parser, as the attacker uses it; PortScanner() itself would look for
    # an nmap binary, which a unit test on the host does not need.
    result = nmap.PortScanner.__new__(nmap.PortScanner).analyse_nmap_xml_scan(XML)
    ip = next(iter(result["scan"]))
    recs = observations(result, ip, 4, "version", {"wall": 1.0, "mono": 2.0}, {"wall": 3.0, "mono": 4.0})
    by_port = {r["port"]: r for r in recs}
    assert open_ports(recs) == sorted(by_port)
    names = {r["service"] for r in recs}
    assert names == {"http", "ssh", "redis"}
    ssh = next(r for r in recs if r["service"] == "ssh")
    assert ssh["product"] == "OpenSSH" and ssh["sweep"] == 4 and ssh["end_mono"] == 4.0
