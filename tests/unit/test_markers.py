"""`pytest -m "not integration"` runs exactly the unit tests; `-m integration` exactly the others."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]


def collected(marker: str) -> list[str]:
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                          "-m", marker, "tests"], cwd=ROOT, capture_output=True, text=True, timeout=120).stdout
    return [line for line in out.splitlines() if "::" in line]


def test_markers_split_unit_from_integration():
    unit, integration = collected("not integration"), collected("integration")
    assert unit and integration
    assert all(t.startswith("tests/unit/") for t in unit), [t for t in unit if not t.startswith("tests/unit/")]
    assert all(t.startswith("tests/integration/") for t in integration)
