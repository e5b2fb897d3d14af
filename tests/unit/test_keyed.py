"""Keyed hopping: known-answer vectors (computed independently with
`printf 'mtdlab-keyed-v1|web|SLOT' | openssl dgst -sha256 -mac HMAC -macopt hexkey:KEY`,
first 8 bytes mod 99, + 9001) and the grace/lead behaviour."""
import pytest

from mtdlab.contract.keyed import KeyedSchedule, slot_of, slot_port
from mtdlab.contract.schedule import PortPool

KEY = bytes(range(32))
POOL = PortPool(((9001, 9099),))


@pytest.mark.parametrize("slot, port", [(0, 9036), (1, 9001), (177000000, 9058), (-1, 9092)])
def test_known_answers(slot, port):
    assert slot_port(KEY, "web", slot, POOL) == port


def test_key_and_service_matter():
    ports = [slot_port(KEY, "web", s, POOL) for s in range(50)]
    assert ports != [slot_port(KEY, "ssh", s, POOL) for s in range(50)]
    assert ports != [slot_port(bytes(32), "web", s, POOL) for s in range(50)]
    assert len(set(ports)) > 30   # spread over the pool


def test_slots_and_answering_ports():
    ks = KeyedSchedule(KEY, "web", POOL, slot_s=10, grace_s=2)
    assert slot_of(0, 10) == 0 and slot_of(9.99, 10) == 0 and slot_of(10, 10) == 1 and slot_of(-0.1, 10) == -1
    p0, p1 = slot_port(KEY, "web", 0, POOL), slot_port(KEY, "web", 1, POOL)
    assert ks.port_at(5) == p0 and ks.port_at(10) == p1
    assert ks.answering_at(5, lead_s=1) == {p0}
    assert ks.answering_at(9.5, lead_s=1) == {p0, p1}       # next port opened before the boundary
    assert ks.answering_at(11, lead_s=1) == {p0, p1}        # previous port still in its grace period
    assert ks.answering_at(12.5, lead_s=1) == {p1}


def test_client_within_half_grace_always_finds_an_open_port():
    ks = KeyedSchedule(KEY, "web", POOL, slot_s=10, grace_s=2)
    for skew in (-1.0, 0.0, 1.0):
        for i in range(2000):
            t = i * 0.0137
            assert ks.port_at(t + skew) in ks.answering_at(t, lead_s=1.0)

