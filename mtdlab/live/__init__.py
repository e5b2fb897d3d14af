"""The live view: follows a run folder's logs as they grow, keeps bounded aggregates of them,
and serves the page (server-sent events) and Prometheus metrics. Reads the run folder only."""
