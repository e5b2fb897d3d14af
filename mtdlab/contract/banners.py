"""Replacement banners for seed 000's banner modes, and how the lab picks them.

Modes (per service):  static         true port, true banner (no hopping)
                      static-random  true port, replacement banner
                      random-random  hopping ports, replacement banner
                      random-static  hopping ports, true banner
"Authenticity": replacements drawn from servers common in the wild, or from exotic ones.
Each entry is (banner text, the product nmap -sV names for it); every one was checked
against this lab's nmap (tests/integration/test_banners.py).
"""
from __future__ import annotations

from mtdlab.contract.schedule import stream

MODES = ("static", "static-random", "random-random", "random-static")
AUTHENTICITY = ("common", "exotic")

BANNERS = {
    "web": {  # the HTTP Server header
        "common": [("nginx/1.18.0", "nginx"), ("Apache/2.4.41 (Ubuntu)", "Apache httpd"),
                   ("Microsoft-IIS/10.0", "Microsoft IIS httpd"), ("nginx/1.24.0", "nginx")],
        "exotic": [("thttpd/2.29 23May2018", "thttpd"), ("mini_httpd/1.30 26Oct2018", "mini_httpd"),
                   ("GoAhead-Webs", "GoAhead WebServer"), ("lighttpd/1.4.59", "lighttpd")],
    },
    "ftp": {  # the text after "220 " in the greeting
        # (FileZilla is not here: nmap knows it only by a multi-line "220-" greeting, and vsftpd's
        # ftpd_banner gives one line, so nmap still said vsftpd.)
        "common": [("ProFTPD 1.3.5 Server (Debian)", "ProFTPD"), ("Microsoft FTP Service", "Microsoft ftpd"),
                   ("ProFTPD 1.3.6 Server (ProFTPD Default Installation)", "ProFTPD")],
        "exotic": [("---------- Welcome to Pure-FTPd [privsep] [TLS] ----------", "Pure-FTPd"),
                   ("Serv-U FTP Server v15.1 ready...", "Serv-U ftpd")],
    },
}


def replaces(mode: str) -> bool:
    return mode.endswith("-random")


def hops(mode: str) -> bool:
    return mode.startswith("random-")


class BannerPicker:
    """A replacement for each new instance of a service, reproducible from the seed."""

    def __init__(self, seed: int, service: str, kind: str, mode: str, authenticity: str):
        self.choices = BANNERS[kind][authenticity] if replaces(mode) else []
        self.rng = stream(seed, service, "banners")

    def next(self) -> tuple[str, str] | None:
        """(banner, the product nmap names for it), or None for the true banner."""
        return self.rng.choice(self.choices) if self.choices else None
