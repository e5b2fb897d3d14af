"""Marks every test under tests/integration/ `integration` (pytest reads `pytestmark` from test
modules only, not from a conftest), so `pytest -m "not integration"` runs exactly the unit tests."""
from pathlib import Path

INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(items):
    for item in items:
        if INTEGRATION in Path(item.fspath).parents:
            item.add_marker("integration")
