"""A controller that starts and finds its lab running adopts it instead of wiping it.

Wiping (remove every instance, place new ones) left the proxy routing to nothing until the
new placements were ready: about 11% of requests failed across 5 restarts. Instead, for each
service: the instance the proxy routes to (the live nginx.conf names it), if it answers its
protocol, is adopted; else the newest other instance that answers. That decides the hop that
was in flight: switched (the routed one is the new instance) completes it, not switched rolls
it back. Then the proxy is pointed at the adopted instances, old nginx workers drain, and only
then is everything else (half-made, old or unhealthy instances) removed. The truth log records
it all (controller.reconciled); mtdlab.analysis.truth keeps adopted placements open. Each
schedule resumes where it was: its random streams skip the draws of the hops already decided.

Keyed services are adopted the same way; their hopper then moves to the current slot's port if
the slot turned meanwhile (an old instance's grace period for skewed direct clients is cut short
by the removal). SAPP labs are not adopted (the gateway's map would have to be adopted too):
their instances and gateway are removed and placed afresh, as before.
"""
from __future__ import annotations

import re

from mtdlab.contract import labels
from mtdlab.contract.catalog import SERVICE_KINDS
from mtdlab.inlab.probes import NotReady

from .hopper import Placement
from .instances import Instances, remove

ADOPT_PROBE_S = 3.0   # an instance that does not answer its protocol within this is not adopted
ROUTE_COMMENT = re.compile(r"^\s*# service (\S+): fixed port \d+ -> target \S+:(\d+) \(hop (\d+)\)$", re.M)
HOP_IN_NAME = re.compile(r"-h(\d+)-[0-9a-f]+$")


def routed_ports(conf_text: str) -> dict[str, int]:
    """service -> upstream port, from the comments the controller writes into nginx.conf."""
    return {m.group(1): int(m.group(2)) for m in ROUTE_COMMENT.finditer(conf_text)}


def hop_of(container) -> int:
    m = HOP_IN_NAME.search(container.name)
    return int(m.group(1)) if m else 0


def choose(scenario, leftovers: list, routed: dict[str, int], healthy) -> dict[str, Placement]:
    """For each adoptable service, the instance to keep: the routed one if healthy, else the
    newest healthy one. healthy(container, kind, port) -> bool."""
    adopted = {}
    for service in scenario.services:
        mine = [c for c in leftovers if c.labels.get(labels.ROLE) == "service"
                and c.labels.get(labels.SERVICE) == service.name]
        mine.sort(key=lambda c: (int(c.labels.get(labels.PORT, 0)) != routed.get(service.name), -hop_of(c)))
        for c in mine:
            port = int(c.labels.get(labels.PORT, 0))
            if healthy(c, service.kind, port):
                adopted[service.name] = Placement(c, port, hop_of(c))
                break
    return adopted


def probe_healthy(readiness):
    def healthy(container, kind: str, port: int) -> bool:
        if not Instances.running(container):
            return False
        try:
            readiness.wait_ready(SERVICE_KINDS[kind].probe, port, ADOPT_PROBE_S,
                                 lambda: Instances.running(container), container.name)
            return True
        except NotReady:
            return False
    return healthy


def remove_rest(leftovers: list, adopted: dict[str, Placement]) -> list[dict]:
    keep = {p.container.id for p in adopted.values()}
    removed = []
    for c in leftovers:
        if c.id not in keep:
            remove(c)
            removed.append({"container": c.id, "service": c.labels.get(labels.SERVICE),
                            "port": int(c.labels.get(labels.PORT, 0)), "role": c.labels.get(labels.ROLE)})
    return removed


def reconcile(scenario, leftovers: list, proxy, readiness, routes, ports, truth, target_ip: str) -> dict[str, Placement]:
    """Adopt what is healthy and routed, point the proxy at it, drain, remove the rest; returns
    service -> adopted placement."""
    from .nginx_conf import Route
    routed = routed_ports(proxy.conf_text())
    adopted = choose(scenario, leftovers, routed, probe_healthy(readiness))
    for name, p in adopted.items():
        service = next(s for s in scenario.services if s.name == name)
        routes.set(Route(name, SERVICE_KINDS[service.kind].proxy_mode, service.proxy_port, target_ip, p.port, p.hop))
        ports.hold(p.port, name)
    if adopted:
        gen, _ = proxy.apply(routes.all())
        proxy.confirm_live(gen)
    proxy.wait_drained()   # no worker of an earlier configuration may still use what goes next
    removed = remove_rest(leftovers, adopted)
    truth.write("controller.reconciled", routed_before=routed, removed=removed,
                adopted={name: {"container": p.container.id, "port": p.port, "hop": p.hop,
                                "in_flight": in_flight(p, [c for c in leftovers if c.labels.get(labels.SERVICE) == name])}
                         for name, p in adopted.items()})
    return adopted


def in_flight(adopted: Placement, instances: list) -> str:
    """What became of the hop that was in flight: none (one instance), completed (the adopted
    one is the newest), rolled back (a newer one was not adopted)."""
    others = [c for c in instances if c.id != adopted.container.id]
    if not others:
        return "none"
    return "rolled back" if any(hop_of(c) > adopted.hop for c in others) else "completed"


def decided_hops(events, service: str) -> int:
    """How many hops of service earlier controllers decided (to resume its schedule where it was)."""
    return sum(1 for e in events if e["event"] == "hop.decided" and e.get("service") == service)
