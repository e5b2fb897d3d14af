"""In-lab programs and helpers: the legitimate client, the keyed direct and SAPP clients, the
xhop client, readiness probes, container entry, the one place containers are started.

Run inside lab containers (the image has no numpy or matplotlib), and by the host for `mtdlab
load`. Imports contract and experiments (to read scenarios); never analysis, reporting or host.
"""
