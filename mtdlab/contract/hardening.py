"""How every lab container is confined: user, kept capabilities, memory and PID limits.

The one table of these limits. mtdlab.inlab.launch applies a row to each container the lab
starts itself; compose.yaml repeats the compose-started rows (YAML cannot import this), and
tests/unit/test_hardening.py holds them equal (and compose.class.yaml's and compose.board.yaml's). docs/security.md shows the table
(`python3 -m mtdlab.contract.hardening`) and says why each kept capability is needed.

Every container also gets: all other capabilities dropped, no-new-privileges, a read-only root
filesystem with small tmpfs mounts for what must be written, and rotated logs.
"""
from __future__ import annotations

from dataclasses import dataclass


# CPU weight: when the machine is saturated (fifty services hopping, each hop booting a
# container), the proxy that relays users' requests comes first, then the controller that keeps
# the schedule and the fence its Docker calls go through; instances share what is left evenly.
# Only relative weights matter; Swarm has no such weight (mtdlab.host.stack leaves it out).
CPU_SHARES_DEFAULT = 1024


@dataclass(frozen=True)
class Confinement:
    role: str
    user: str                # uid[:gid] inside the container; "host" = the host user's (MTDLAB_UID)
    caps: tuple[str, ...]    # kept after cap_drop ALL
    memory: str              # hard memory limit (docker's units)
    pids: int                # most processes and threads at once
    why: str                 # why this user and these capabilities
    cpu_shares: int = CPU_SHARES_DEFAULT   # CPU weight when the machine is saturated (docker's cpu_shares)


UNPRIVILEGED = "10001"   # no passwd entry needed; owns nothing in the image but /etc/nginx/mtdlab
NOBODY = "65534:65534"

_TABLE = [
    # Started by compose (compose.yaml):
    Confinement("target", NOBODY, (), "32m", 16, "holds the network namespace; does nothing else"),
    Confinement("proxy", UNPRIVILEGED, (), "128m", 64, "nginx on ports above 1024: no root needed", cpu_shares=4096),
    Confinement("controller", "host", (), "512m", 256,
                "writes the run folder as the host user; reaches Docker only through the fence; "
                "runs the in-lab clients", cpu_shares=2048),
    Confinement("attacker", "0:0", ("NET_RAW",), "256m", 64,
                "nmap's SYN and version scans open raw sockets: root with NET_RAW only (a non-root user "
                "gets no effective capabilities, and no-new-privileges blocks file capabilities)"),
    Confinement("fence", "0:0", (), "64m", 32,
                "haproxy opens the Docker socket (root-owned, mode 660): root's uid, no capabilities", cpu_shares=2048),
    Confinement("dashboard", NOBODY, (), "128m", 64,
                "the live view reads the run folder (mounted read-only); nobody's uid can read the logs "
                "but not the owner-only keys beside them"),
    Confinement("users", "host", (), "64m", 64,
                "the demo's legitimate client: writes its log into the run folder as the host user"),
    # A classroom's (compose.class.yaml per team, compose.board.yaml per class):
    Confinement("workstation", "2000:2000", (), "512m", 128,
                "the students' shell and its SSH server run as the unprivileged student user (nmap -sT: no raw "
                "sockets); on the team's range network only"),
    Confinement("door", UNPRIVILEGED, (), "32m", 16, "nginx relaying the published SSH port to the workstation"),
    Confinement("scoreboard", "host", (), "256m", 64,
                "reads the class folder (truth logs, class secret) and writes its submissions log as the host user"),
    # Started by the controller or an experiment (mtdlab.inlab.launch):
    Confinement("web", UNPRIVILEGED, (), "192m", 64, "gunicorn on a port above 1024"),
    Confinement("redis", UNPRIVILEGED, (), "64m", 16, "in memory only, a port above 1024"),
    Confinement("ssh", "0:0", ("SETUID", "SETGID", "SYS_CHROOT", "CHOWN", "KILL"), "64m", 32,
                "sshd insists on root: it chroots its pre-authentication child to /run/sshd (SYS_CHROOT) "
                "and drops it to the sshd user (SETUID, SETGID), and kills its children (KILL)"),
    Confinement("ftp", "0:0", ("SETUID", "SETGID", "SYS_CHROOT"), "32m", 16,
                "vsftpd insists on root: it chroots each session (SYS_CHROOT) and drops to nobody (SETUID, SETGID)"),
    Confinement("gateway", UNPRIVILEGED, (), "128m", 64, "the SAPP gateway: python on a port above 1024"),
    Confinement("xhop", UNPRIVILEGED, (), "192m", 256, "the flooding experiment's service: one thread a port"),
]
CONFINEMENT = {c.role: c for c in _TABLE}

# Writable places on a read-only root filesystem (each container's own, gone when it stops).
# A tmpfs over a folder the image has takes that folder's mode, not mode= (Docker 20.10): /run
# stays root's 755, so non-root containers write under /tmp.
TMPFS = {"/tmp": "size=16m,mode=1777", "/run": "size=8m,mode=1777"}
LOG_OPTIONS = {"max-size": "1m", "max-file": "3"}
SECURITY_OPT = ["no-new-privileges"]


def run_options(role: str) -> dict:
    """docker-py containers.run() keyword arguments confining a container of this role."""
    from docker.types import LogConfig   # imported here: the table itself needs no Docker
    row = CONFINEMENT[role]
    assert row.user != "host", "host-user containers are started by compose"
    return {"user": row.user, "cap_drop": ["ALL"], "cap_add": list(row.caps) or None,
            "security_opt": SECURITY_OPT, "read_only": True, "tmpfs": dict(TMPFS),
            "mem_limit": row.memory, "pids_limit": row.pids,
            **({"cpu_shares": row.cpu_shares} if row.cpu_shares != CPU_SHARES_DEFAULT else {}),
            "log_config": LogConfig(type="json-file", config=dict(LOG_OPTIONS))}


def markdown() -> str:
    lines = ["| container | user | capabilities kept | memory | PIDs | CPU weight | why |", "|---|---|---|---|---|---|---|"]
    for c in _TABLE:
        user = "the host user's uid:gid (`MTDLAB_UID`)" if c.user == "host" else f"`{c.user}`"
        lines.append(f"| {c.role} | {user} | {', '.join(c.caps) or 'none'} | {c.memory} | {c.pids} | {c.cpu_shares} | {c.why} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
