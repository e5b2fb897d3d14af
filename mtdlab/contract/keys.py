"""Every secret the lab uses, in one place: what each key is for, the environment variable that
carries it into a container, the run-folder file that keeps it for the host user, one loader.

Keys are 32 random bytes, written as hex, made fresh for every lab or run (`new()`); none is
ever committed. Errors name the kind of key and where it was read from.
"""
from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

MIN_BYTES = 16     # shorter keys are refused
NEW_BYTES = 32     # what new() makes


class KeyError_(ValueError):
    """A key that is missing or malformed; the message says which key and where it was looked for."""


@dataclass(frozen=True)
class KeyKind:
    name: str              # how errors and docs call it
    purpose: str
    env: str               # the environment variable that carries it into a container
    file: str | None       # its file in a run folder (owner-only), when the host user needs it


CONSOLE = KeyKind("console key", "signs management-console requests (seed 000)", "MTDLAB_CONSOLE_KEY", "console.key")
KEYED = KeyKind("keyed-hopping key", "keys the port sequence of keyed services (seed 001)", "MTDLAB_KEYED_KEY",
                "keyed.key")
SAPP = KeyKind("SAPP key", "authenticates the gateway's connection preamble (seed 000)", "MTDLAB_SAPP_KEY", "sapp.key")
XHOP = KeyKind("xhop key", "keys the flooding experiment's per-exchange port sequence (seed 001)", "MTDLAB_XHOP_KEY",
               None)
REDIS = KeyKind("Redis password", "the password every Redis instance requires (AUTH); the proxy passes it through",
                "MTDLAB_REDIS_PASSWORD", "redis.key")
FLAG = KeyKind("flag key", "derives the team's classroom flags, one per service instance (mtdlab.contract.flags)",
               "MTDLAB_FLAG_KEY", None)
CLASS = KeyKind("class secret", "derives every team's flag key; the grader's (mtdlab.contract.flags)",
                "MTDLAB_CLASS_SECRET", "class.key")
KINDS = (CONSOLE, KEYED, SAPP, XHOP, REDIS, FLAG, CLASS)


def parse(kind: KeyKind, text: str, source: str) -> bytes:
    """The key in text (hex, surrounding blanks ignored); source says where text came from."""
    if not text.strip():
        raise KeyError_(f"the {kind.name} is missing ({source} is empty)")
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise KeyError_(f"the {kind.name} in {source} must be hex") from None
    if len(key) < MIN_BYTES:
        raise KeyError_(f"the {kind.name} in {source} must be at least {MIN_BYTES} bytes ({2 * MIN_BYTES} hex digits)")
    return key


def from_env(kind: KeyKind, environ=None) -> bytes:
    """The key a container was given in its environment."""
    environ = os.environ if environ is None else environ
    return parse(kind, environ.get(kind.env, ""), f"environment variable {kind.env}")


def from_file(kind: KeyKind, path: str | Path) -> bytes:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise KeyError_(f"the {kind.name} file {path} cannot be read: {exc.strerror or exc}") from None
    return parse(kind, text, str(path))


def new() -> str:
    """A fresh key, as hex."""
    return secrets.token_hex(NEW_BYTES)


def write(kind: KeyKind, folder: Path, value: str) -> Path:
    """Keep a key in its run-folder file, readable by its owner only."""
    path = Path(folder) / kind.file
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(value + "\n")
    return path


def env_from_secrets(environ=None) -> list[str]:
    """On Swarm, keys come as secret files (mtdlab/host/stack.py): MTDLAB_SECRETS names their folder,
    each file is named after the variable it stands for. Put each into the environment, where the
    rest of the program reads keys on either engine; returns the variables set."""
    environ = os.environ if environ is None else environ
    folder = environ.get("MTDLAB_SECRETS")
    if not folder:
        return []
    found = []
    for path in sorted(Path(folder).glob("MTDLAB_*")):
        environ[path.name] = path.read_text().strip()
        found.append(path.name)
    return found
