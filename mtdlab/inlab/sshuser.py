"""The lab's one SSH login: the account a legitimate user's session runs as (issue 13: an SSH
session held through hops must go on running commands).

The controller makes a fresh ed25519 key pair when it starts (`make`): ssh instances get only the
public half (MTDLAB_SSH_AUTHORIZED_KEY, services/ssh/start); the private half stays in the
controller's own /tmp, owner-only, where in-lab measuring clients run (mtdlab.inlab.held). No
attacker, workstation or host file ever holds it, and it dies with the controller.
"""
from __future__ import annotations

import os
from pathlib import Path

USER = "labuser"                      # made in images/lab.Dockerfile: no password, /bin/sh
ENV = "MTDLAB_SSH_AUTHORIZED_KEY"     # the public key, as an authorized_keys line
KEY_PATH = Path("/tmp/mtdlab-ssh-user.key")


def make(path: Path = KEY_PATH) -> str:
    """A new key pair: the private key written to path (0600); returns the public key line."""
    import asyncssh   # in the image; only the controller and in-lab clients need it
    key = asyncssh.generate_private_key("ssh-ed25519", comment=f"{USER}@mtdlab")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.export_private_key())
    return key.export_public_key().decode().strip()


def load(path: Path = KEY_PATH):
    import asyncssh
    return asyncssh.read_private_key(str(path))
