"""Research runs: parameter sweeps over scenarios (sweepfile, runner, pooled, report) and
what makes a run reproducible (manifest, rerun)."""
