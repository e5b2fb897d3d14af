"""The shared contract: what the host, the controller, the attacker and every in-lab program
agree on (scenario model, schedules and pools, event formats, labels, keys, limits, the
service catalogue, banners, the keyed, SAPP and xhop protocol functions, scope, waiting).

Imported by every other package. Imports nothing of mtdlab outside itself; standard library
and pyyaml only, so it loads in every lab container.
"""
