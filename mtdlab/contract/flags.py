"""Classroom flags: a secret string per service instance that changes on every hop.

A flag is an HMAC of the service's name and hop number under the team's flag key, and the team's
flag key is an HMAC of the team's name under the class secret. So the class secret (the grader's)
yields every team's flags, a team's key (its controller's) yields only that team's, and nothing a
workstation can read holds either: an instance is given only its own flag. The truth log records
each instance's flag id (a hash of the flag), so any submitted flag can be matched to the instance
that served it, and then checked by recomputing it.
"""
from __future__ import annotations

import hashlib
import hmac
import re

FLAG = re.compile(r"^mtd\{[0-9a-f]{24}\}$")
FLAG_ID_HEX = 12


def team_key(class_secret: bytes, team: str) -> bytes:
    return hmac.new(class_secret, f"mtdlab-team|{team}".encode(), hashlib.sha256).digest()


def flag(team_key_: bytes, service: str, hop: int) -> str:
    """The flag the instance of `service` placed by hop number `hop` serves."""
    mac = hmac.new(team_key_, f"mtdlab-flag|{service}|{hop}".encode(), hashlib.sha256).hexdigest()
    return f"mtd{{{mac[:24]}}}"


def flag_id(flag_text: str) -> str:
    """What the truth log records of a flag: enough to find its instance, not enough to forge it."""
    return hashlib.sha256(flag_text.strip().encode()).hexdigest()[:FLAG_ID_HEX]


def is_flag(text: str) -> bool:
    return bool(FLAG.fullmatch(text.strip()))


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.strip().encode(), b.strip().encode())
