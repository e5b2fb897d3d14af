"""mtdlab: the shared package every lab container and the host CLI use.

It holds what more than one part needs: the scenario model, hop schedules, port pools,
event formats, the service catalogue and readiness probes. Containers import it; they
never copy code from one another.
"""
__version__ = "0.1.0"
