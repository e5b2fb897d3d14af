"""mtdlab: the one package every lab container and the host CLI use; containers never copy code.

Its subpackages follow the data path and draw the lines between where code runs
(docs/architecture.md; tests/unit/test_boundaries.py fails when an import crosses a line):

    contract     what every part agrees on: scenario model, schedules, events, labels, keys, limits
    analysis     from a run folder's raw data to figures: truth, sweeps, decay, theory, resampling
    experiments  one module per experiment: its scenario section, launcher, metrics, report part
    inlab        programs and helpers that run inside lab containers (no numpy, no matplotlib)
    reporting    summary.json and report.html over every experiment; run comparisons; coverage
    live         the live view: logs followed as they grow, bounded state, the page's server
    classroom    class files, the truth a grader needs, checking, the board and its pages
    host         the host-side command line and lab orchestration
"""
__version__ = "0.1.0"
