"""Reporting: summary.json and report.html for a run, over the base figures and every
registered experiment; several runs side by side; the coverage check of the intervals.

Imported by host. Imports contract, analysis and experiments; never inlab or host.
"""
