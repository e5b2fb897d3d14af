"""Scope: lab traffic goes only to hosts on the lab's own network, never anything else.

Used by the attacker before it scans and by the in-lab legitimate client before it sends.

The lab network is whatever IPv4 network the attacker container itself sits on. A target
must resolve to an address inside one of those networks, and must not be the network's
own address, its broadcast address, the attacker itself, or the Docker bridge's gateway
(the host, which Docker gives the network's first address). Checked before any packet.
"""
from __future__ import annotations

import ipaddress
import json
import socket
import sys
import subprocess


class OutOfScope(Exception):
    pass


def own_networks() -> list[ipaddress.IPv4Interface]:
    out = subprocess.run(["ip", "-j", "-4", "addr", "show"], check=True, capture_output=True, text=True).stdout
    found = []
    for link in json.loads(out):
        for a in link.get("addr_info", []):
            iface = ipaddress.IPv4Interface(f"{a['local']}/{a['prefixlen']}")
            if not iface.ip.is_loopback:
                found.append(iface)
    return found


def check_target(address: str, networks: list[ipaddress.IPv4Interface]) -> ipaddress.IPv4Address:
    """The target's address if it lies inside the lab; OutOfScope naming the reason if not."""
    try:
        ip = ipaddress.IPv4Address(address)
    except ipaddress.AddressValueError:
        raise OutOfScope(f"{address!r} is not an IPv4 address") from None
    for iface in networks:
        net = iface.network
        if ip in net:
            if ip == iface.ip:
                raise OutOfScope(f"{ip} is the attacker itself")
            if ip in (net.network_address, net.broadcast_address):
                raise OutOfScope(f"{ip} is the network or broadcast address of {net}")
            if ip == net.network_address + 1:
                raise OutOfScope(f"{ip} is the gateway of {net} (the Docker host), not a lab container")
            return ip
    nets = ", ".join(str(i.network) for i in networks) or "none"
    raise OutOfScope(f"{ip} is outside the lab network ({nets}); the attacker only scans lab containers")


def resolve_in_scope(target: str) -> ipaddress.IPv4Address:
    try:
        address = socket.gethostbyname(target)
    except OSError as exc:
        raise OutOfScope(f"cannot resolve {target!r}: {exc}") from None
    return check_target(address, own_networks())


def in_scope_or_exit(target: str, who: str) -> str:
    """The in-lab programs' check before any packet: target's address if it is a lab container,
    else exit 3 naming why not."""
    try:
        return str(resolve_in_scope(target))
    except OutOfScope as exc:
        print(f"{who}: refusing target {target!r}: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(3)
