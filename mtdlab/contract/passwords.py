"""Workstation passwords: the class makes one per team (the roster holds it) and gives the team's
workstation only its scrypt hash (workstation/sshd.py checks logins against it)."""
from __future__ import annotations

import hashlib
import hmac
import secrets

SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def new_password() -> str:
    return secrets.token_urlsafe(12)      # 16 characters, 96 bits


def password_hash(password: str, salt: bytes | None = None) -> str:
    """`salt_hex$hash_hex`."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **SCRYPT)
    return f"{salt.hex()}${digest.hex()}"


def password_ok(password: str, stored: str) -> bool:
    salt_hex, sep, _ = stored.partition("$")
    try:
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    return bool(sep) and hmac.compare_digest(password_hash(password, salt), stored)
