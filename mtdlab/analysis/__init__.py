"""Analysis: from a run folder's raw data (truth log, observations, client logs) to figures:
placements from the truth log, sweep judging, reconnaissance decay, the theory models,
block-bootstrap intervals, hop latency, the run loader and the common metrics, and the model
simulator that checks them.

Imported by experiments, reporting and host. Imports contract only (and numpy, matplotlib):
never inlab, reporting, host or experiments; never loaded inside a lab container.
"""
