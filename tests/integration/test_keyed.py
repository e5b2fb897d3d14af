"""Keyed hopping (seed 001) on the real engine: direct clients that compute the port from the
key and their clock reach the service, with skew up to g/2, and fail beyond as theory says."""
import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

SCENARIO = """name: it-keyed
seed: 1
target:
  services:
    - name: web
      kind: web
      hop:
        interval: {law: keyed, slot_s: 5, grace_s: 1, lead_s: 1}
        pool: {ranges: ["9001-9099"]}
direct_client: {service: web, skews_s: [0, 0.5, -0.5, 2, -2], rate_per_s: 50}
"""


def test_keyed_direct_clients_against_skew(tmp_path):
    (tmp_path / "s.yaml").write_text(SCENARIO)
    result = subprocess.run([sys.executable, "-m", "mtdlab.host.cli", "run", str(tmp_path / "s.yaml"), "--duration", "40",
                             "--out", str(tmp_path / "run")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    rows = {r["skew_s"]: r for r in s["direct"]["by_skew"]}
    assert s["hops"] >= 5
    for skew in (0, 0.5, -0.5):          # within g/2: every request reaches the service
        assert rows[skew]["requests"] >= 300 and rows[skew]["success_rate"] >= 0.99, rows[skew]
    for skew in (2, -2):                 # beyond: a share of each slot is lost, as theory says
        assert rows[skew]["success_rate"] < 0.95, rows[skew]
        # 400 requests a skew (standard error ~0.02), and the old listener closes a little after
        # the stop begins (effective grace is measured at the stop's start): allow 0.1.
        assert rows[skew]["success_rate"] == pytest.approx(rows[skew]["theory"], abs=0.1), rows[skew]
    assert (tmp_path / "run" / "keyed.key").stat().st_mode & 0o077 == 0   # the key is the owner's only
