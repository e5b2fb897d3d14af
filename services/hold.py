"""The target holder: owns the target's network namespace, which every service instance joins.

It listens on nothing; it only keeps the namespace (one IP, like one host) alive across hops.
"""
import signal
import sys

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
print("target: holding the network namespace", flush=True)
while True:
    signal.pause()
