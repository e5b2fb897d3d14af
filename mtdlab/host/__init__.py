"""Host side: the `mtdlab` command line, bringing labs up and down (compose), scenario runs.

Imported by nobody inside mtdlab (its entry point is mtdlab.host.cli:main). May import every
other package.
"""
