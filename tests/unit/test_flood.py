"""The flooding experiment's pure parts: the per-exchange port function, the datagrams, the
model it is compared with, and the scenario section."""
import hashlib
import hmac
import math
from collections import Counter

import pytest

from mtdlab.analysis import theory
from mtdlab.experiments import ScenarioError, parse_scenario
from mtdlab.contract.xhop import exchange_port, parse_request, reply, request

KEY = bytes(range(32))


def test_exchange_port_is_the_keyed_function_and_spreads_evenly():
    mac = hmac.new(KEY, b"mtdlab-xhop-v1|7", hashlib.sha256).digest()
    assert exchange_port(KEY, 7, 30000, 16) == 30000 + int.from_bytes(mac[:8], "big") % 16
    counts = Counter(exchange_port(KEY, i, 30000, 16) for i in range(16000))
    assert set(counts) == set(range(30000, 30016))
    assert max(counts.values()) < 1.15 * 1000 and min(counts.values()) > 0.85 * 1000
    assert {exchange_port(KEY, i, 30000, 1) for i in range(50)} == {30000}
    assert [exchange_port(bytes(32), i, 30000, 16) for i in range(20)] != [exchange_port(KEY, i, 30000, 16) for i in range(20)]


def test_datagrams():
    assert parse_request(request(12, "ab01")) == (12, "ab01")
    assert reply(12, "ab01") == b"Y 12 ab01"
    for junk in (b"F" * 64, b"X -1 a", b"X 1", b"Y 1 a", b""):
        assert parse_request(junk) is None


def test_flood_model():
    B, c, legit = 2000, 100, 50
    # One port: every datagram meets the whole flood.
    assert theory.flood_success(1, 1, B, c, legit) == pytest.approx(c / (B + legit))
    # Spread over all n ports, the live port meets B/n: success grows like n until the flood fits.
    assert theory.flood_success(4, 4, B, c, legit) == pytest.approx(c / (B / 4 + legit / 4))
    assert theory.flood_success(64, 64, B, c, legit) == 1.0
    # Concentrated on k < n ports: the live port escapes with probability 1 - k/n.
    assert theory.flood_success(16, 2, B, c, legit) == pytest.approx(14 / 16 + 2 / 16 * c / (B / 2 + legit / 16))
    # The seed's sqrt(n) claim grows more slowly.
    assert theory.flood_success(16, 16, B, c, legit, gain="sqrt") == pytest.approx(c / (B / math.sqrt(16) + legit / 16))
    assert theory.flood_success(16, 16, B, c, legit, gain="sqrt") < theory.flood_success(16, 16, B, c, legit)


FLOOD = """
name: f
seed: 1
target:
  services:
    - {name: web, kind: web, hop: {interval: {law: never}, pool: {ranges: ["9001-9099"]}}}
flood: {ns: [1, 4, 16], flooded: 2, budget_pps: 1000, base_port: 30000}
"""


def test_flood_section():
    f = parse_scenario(FLOOD).flood
    assert f.ns == (1, 4, 16) and f.k(1) == 1 and f.k(16) == 2 and f.capacity_pps == 100
    assert parse_scenario(FLOOD.replace("flooded: 2, ", "")).flood.k(16) == 16


@pytest.mark.parametrize("old, new, expected", [
    ("ns: [1, 4, 16]", "ns: [0, 4]", "flood.ns: expected distinct whole numbers from 1 to 128, got 0"),
    ("ns: [1, 4, 16]", "ns: [4, 4]", "flood.ns: expected distinct whole numbers from 1 to 128, got 4"),
    ("budget_pps: 1000", "budget_pps: 50000", "flood.budget_pps: expected at most 20000 datagrams/s, got 50000"),
    ("base_port: 30000", "base_port: 9050", "flood.base_port: ports 9050-9065 overlap the hop pool of service 'web'"),
    ("base_port: 30000", "base_port: 65530", "flood.base_port: expected ports 65530-65545 to lie within 1024-65535"),
    ("flooded: 2", "flooded: some", "flood.flooded: expected all or a whole number >= 1, got 'some'"),
])
def test_flood_section_refused(old, new, expected):
    with pytest.raises(ScenarioError) as info:
        parse_scenario(FLOOD.replace(old, new))
    assert f":7: {expected}" in str(info.value)
