"""The kinds of service a target can run: how to start one and how the proxy carries it.

Each kind is a real program from Debian's packages (the web app is our Flask app under
gunicorn). services/<kind>/start PORT runs one instance in the foreground.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServiceKind:
    name: str
    probe: str        # readiness probe in mtdlab.inlab.probes: http, ssh or redis
    proxy_mode: str   # "http" (nginx http block) or "stream" (nginx stream block, plain TCP)
    proxy_port: int   # default fixed port on the proxy
    nmap_names: tuple[str, ...]  # what nmap -sV calls this service when it identifies it right
    product: str                 # the product nmap -sV names for the real program
    banner: str | None           # where a replacement banner goes (None: not replaceable, see below)
    # How an instance is stopped whole: a door-less kind's old instance once the proxy has
    # drained it, any instance at shutdown or past its drain limit. gunicorn takes SIGTERM as "finish gracefully", ~0.8 s, and even its quick shutdown
    # (SIGINT) takes 0.4-0.6 s, long and uneven enough to miss the hop's moment
    # (controller/ahead.py); nothing of a web instance needs a clean exit, so it is killed.
    stop_signal: str = "SIGTERM"
    # Whether an old instance can close its door: stop accepting new connections at the hop's
    # moment while the ones it holds go on (services/<kind>/start does it on SIGUSR1, then exits
    # once they have ended). Web, Redis and SSH can; vsftpd has no way to stop listening and
    # keep its sessions, so it is stopped once no proxy worker relays to it.
    door: bool = False

    def command(self, port: int) -> list[str]:
        return [f"/opt/mtdlab/services/{self.name}/start", str(port)]


# Banner replacement (seed 000's banner modes) must not change what a legitimate client gets
# done. The HTTP Server header and the FTP greeting are free text. SSH's version string is
# hashed into the key exchange (RFC 4253 section 8), so only a rebuilt sshd could change it;
# Redis has no banner (nmap knows it by its replies). Those two keep their true identity.
SERVICE_KINDS = {
    "web": ServiceKind("web", "http", "http", 8080, ("http",), "Gunicorn", "HTTP Server header", "SIGKILL", door=True),
    "ssh": ServiceKind("ssh", "ssh", "stream", 2222, ("ssh",), "OpenSSH", None, door=True),
    "redis": ServiceKind("redis", "redis", "stream", 6379, ("redis",), "Redis key-value store", None, door=True),
    "ftp": ServiceKind("ftp", "ftp", "stream", 2121, ("ftp",), "vsftpd", "FTP greeting"),
}

# The proxy's own ports (controller/nginx_conf.py; proxy/placeholder*.conf repeat them): the
# controller reads which configuration is live there. Not published, and no service may take them.
SWITCH_STATUS_PORT = 8099
FRONT_STATUS_PORT = 8098

# HTTP instances also listen on a unix socket in a folder that only the proxy, the controller and
# the web instances mount (compose.yaml: the http-sockets volume; never the attacker or a
# workstation). The proxy's front connects to SERVICE.sock, a link the controller moves to the
# serving instance's SERVICE-PORT.sock at each hop's switch: a proxied request then crosses one
# nginx process (the front) instead of two (front and switch), and no TCP hop behind it.
HTTP_SOCKET_DIR = "/srv/mtdlab-http"
HTTP_SOCKET_VOLUME = "http-sockets"


def http_socket(service: str, port: int | None = None) -> str:
    """The front's fixed path for service (port None), or the path one instance binds."""
    return f"{HTTP_SOCKET_DIR}/{service}.sock" if port is None else f"{HTTP_SOCKET_DIR}/{service}-{port}.sock"
