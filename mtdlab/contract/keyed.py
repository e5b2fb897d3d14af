"""Keyed hopping (seed 001): the port is a keyed pseudo-random function of a shared secret,
the service and the time slot, so a client that knows the secret computes the port itself.

    slot(t)          = floor((t - epoch) / slot_s)          t: Unix time, seconds
    port(k, s, slot) = pool[ HMAC-SHA256(k, "mtdlab-keyed-v1|" + s + "|" + slot)[0:8] mod |pool| ]

HMAC, not a bare hash: without the key, the sequence cannot be computed or extended from
observed ports. The first 8 bytes as a big-endian integer modulo a pool of at most 65,535
ports leave a bias below 2^-48. The server opens each slot's port shortly before the slot
starts and keeps the previous slot's port answering for a grace period after it, so clients
whose clocks are off by less than that still connect.
"""
from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass

from mtdlab.contract.schedule import PortPool

DOMAIN = "mtdlab-keyed-v1"


def slot_of(t: float, slot_s: float, epoch: float = 0.0) -> int:
    return math.floor((t - epoch) / slot_s)


def slot_port(key: bytes, service: str, slot: int, pool: PortPool) -> int:
    mac = hmac.new(key, f"{DOMAIN}|{service}|{slot}".encode(), hashlib.sha256).digest()
    return pool.ports[int.from_bytes(mac[:8], "big") % len(pool)]


@dataclass(frozen=True)
class KeyedSchedule:
    key: bytes
    service: str
    pool: PortPool
    slot_s: float
    grace_s: float
    epoch: float = 0.0

    def port_at(self, t: float) -> int:
        """The port a client computes for time t (its own clock)."""
        return slot_port(self.key, self.service, slot_of(t, self.slot_s, self.epoch), self.pool)

    def slot_start(self, slot: int) -> float:
        return self.epoch + slot * self.slot_s

    def answering_at(self, t: float, lead_s: float) -> set[int]:
        """Ports the server has open at true time t: this slot's, the next slot's from lead_s
        before it starts, the previous slot's until grace_s after this one started."""
        k = slot_of(t, self.slot_s, self.epoch)
        ports = {slot_port(self.key, self.service, k, self.pool)}
        if t >= self.slot_start(k + 1) - lead_s:
            ports.add(slot_port(self.key, self.service, k + 1, self.pool))
        if t < self.slot_start(k) + self.grace_s:
            ports.add(slot_port(self.key, self.service, k - 1, self.pool))
        return ports

