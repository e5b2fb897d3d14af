"""Turns one nmap scan (python-nmap's parsed result) into observation records."""
from __future__ import annotations


def observations(result: dict, ip: str, sweep: int, scan: str, start: dict, end: dict) -> list[dict]:
    """One record per port nmap reported, with state, service, product and version as nmap gave
    them. Times are the scan's start and end: nmap does not say when it probed each port."""
    host = result.get("scan", {}).get(ip, {})
    records = []
    for port, info in sorted(host.get("tcp", {}).items()):
        records.append({
            "sweep": sweep, "scan": scan, "target": ip, "port": int(port), "state": info.get("state"),
            "reason": info.get("reason"), "service": info.get("name") or None,
            "product": info.get("product") or None, "version": info.get("version") or None,
            "extrainfo": info.get("extrainfo") or None,
            "start_wall": start["wall"], "start_mono": start["mono"],
            "end_wall": end["wall"], "end_mono": end["mono"],
        })
    return records


def open_ports(records: list[dict]) -> list[int]:
    return [r["port"] for r in records if r["state"] == "open"]
