"""The package boundaries (mtdlab/__init__.py, docs/architecture.md) hold: no import crosses a
line the wrong way, and what runs in a lab container loads without numpy or matplotlib."""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PACKAGES = ("contract", "analysis", "experiments", "inlab", "reporting", "live", "classroom", "research", "host")
# What each package may import of mtdlab, at module level and inside functions.
ALLOWED = {
    "contract": {"contract"},
    "analysis": {"contract", "analysis", "experiments"},
    "experiments": {"contract", "experiments"},
    "inlab": {"contract", "inlab", "experiments"},
    "reporting": {"contract", "analysis", "experiments", "reporting"},
    "live": {"contract", "analysis", "live"},
    "classroom": {"contract", "live", "classroom"},
    "research": {"contract", "analysis", "experiments", "reporting", "research"},
    "host": set(PACKAGES),
}
# Experiments import analysis (figures, plots) and in-lab helpers only where used, inside functions.
ALLOWED_IN_FUNCTIONS = {**ALLOWED, "experiments": {"contract", "experiments", "analysis", "inlab"}}
# The programs of the lab's containers (controller, attacker, gateway, services): never the host's
# or analysis code.
IN_LAB_PROGRAMS = ("controller", "attacker", "gateway", "services")
IN_LAB_ALLOWED = {"contract", "inlab", "experiments"}
# The dashboard container runs the live view (which reads with the analysis's pure parts).
DASHBOARD_ALLOWED = {"live"}
# The exercises' checkers judge with the classroom's rules; the workstation's SSH server checks a
# password with the contract's hash.
EXERCISES_ALLOWED = {"classroom", "contract"}
WORKSTATION_ALLOWED = {"contract"}


def mtdlab_imports(path: Path) -> list[tuple[str, bool]]:
    """(package imported, inside a function?) for every import of mtdlab.<package> in a file."""
    tree = ast.parse(path.read_text())
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [child.module] + [f"{child.module}.{a.name}" for a in child.names] \
                    if child.module == "mtdlab" else [child.module]
            elif isinstance(child, ast.ImportFrom) and child.level:
                pkg = path.parent.name
                names = [f"mtdlab.{pkg}"]
            for name in names:
                parts = name.split(".")
                if parts[0] == "mtdlab" and len(parts) > 1 and parts[1] in PACKAGES:
                    found.append((parts[1], in_function))
            visit(child, inner)
    visit(tree, False)
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_crosses_a_line_the_wrong_way(package):
    wrong = []
    for path in sorted((ROOT / "mtdlab" / package).glob("*.py")):
        for imported, in_function in mtdlab_imports(path):
            allowed = (ALLOWED_IN_FUNCTIONS if in_function else ALLOWED)[package]
            if imported not in allowed:
                wrong.append(f"{path.relative_to(ROOT)} imports mtdlab.{imported}"
                             + (" (in a function)" if in_function else ""))
    assert not wrong, wrong


def test_the_lab_programs_import_only_what_runs_in_a_container():
    wrong = [f"{path.relative_to(ROOT)} imports mtdlab.{imported}"
             for d in IN_LAB_PROGRAMS for path in sorted((ROOT / d).rglob("*.py"))
             for imported, _ in mtdlab_imports(path) if imported not in IN_LAB_ALLOWED]
    for folder, allowed in (("dashboard", DASHBOARD_ALLOWED), ("exercises", EXERCISES_ALLOWED),
                            ("workstation", WORKSTATION_ALLOWED)):
        wrong += [f"{path.relative_to(ROOT)} imports mtdlab.{imported}" for path in sorted((ROOT / folder).rglob("*.py"))
                  for imported, _ in mtdlab_imports(path) if imported not in allowed]
    assert not wrong, wrong


def test_no_module_of_the_package_is_over_350_lines():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "mtdlab").rglob("*.py")
            if (n := len(p.read_text().splitlines())) > 350}
    assert not long, long


def test_in_lab_code_loads_without_numpy_or_matplotlib():
    # The lab image has neither: the scenario loader, every shipped scenario and the in-lab
    # programs must load without them.
    code = """
import sys
sys.modules["numpy"] = None
sys.modules["matplotlib"] = None
from pathlib import Path
from mtdlab.experiments import load_scenario
for p in sorted(Path("scenarios").glob("*.yaml")):
    load_scenario(p)
import mtdlab.inlab.legit, mtdlab.inlab.direct, mtdlab.inlab.sapp_client, mtdlab.inlab.xhop_client
import mtdlab.inlab.probes, mtdlab.inlab.container, mtdlab.inlab.launch
import controller.main, controller.console, attacker.main, attacker.flood, gateway.main, gateway.ctl
import services.xhop.server
import dashboard.main, mtdlab.live.server, mtdlab.live.view
import mtdlab.classroom.server, exercises
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
