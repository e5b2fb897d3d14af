"""Keyed client, the instructor's solution (instructor.md). Not on the workstations (the class
lab hides exercises/ there); the integration tests run it on one, as a team would.

    python3 solution.py KEY [SECONDS]      KEY: the team's keyed key (roster), hex

For SECONDS (default 330: one 5-minute window and a margin) it computes the portal's port for the
current slot (seed 001's sequence, student.md), reads the page there directly (no proxy, no
scan) every 2 s, and prints every flag it saw, one per line, ready to submit.
"""
import hashlib
import hmac
import re
import sys
import time
import urllib.request

SERVICE, SLOT_S, POOL = "portal", 10, range(45000, 46000)     # scenarios/classroom.yaml
FLAG = re.compile(r"mtd\{[0-9a-f]{24}\}")


def port(key: bytes, slot: int) -> int:
    mac = hmac.new(key, f"mtdlab-keyed-v1|{SERVICE}|{slot}".encode(), hashlib.sha256).digest()
    return POOL[int.from_bytes(mac[:8], "big") % len(POOL)]


def collect(key: bytes, seconds: float, host: str = "target") -> list[str]:
    flags = []
    end = time.time() + seconds
    while time.time() < end:
        slot = int(time.time() // SLOT_S)
        try:
            with urllib.request.urlopen(f"http://{host}:{port(key, slot)}/", timeout=2) as page:
                for flag in FLAG.findall(page.read().decode(errors="replace")):
                    if flag not in flags:
                        flags.append(flag)
        except OSError:
            pass            # between two slots the port may just have moved: the next try gets it
        time.sleep(2)
    return flags


if __name__ == "__main__":
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 330
    print("\n".join(collect(bytes.fromhex(sys.argv[1]), seconds)))
