"""The hostile corpus (tests/fixtures/hostile, made by its generate.py): every file, whatever its
bytes, is refused with `file:line: ...` holding the fragment EXPECTED.tsv names, quickly: never
a traceback, a hang or acceptance."""
import re
import time
from pathlib import Path

import pytest

from mtdlab.experiments import ScenarioError, load_scenario

HOSTILE = Path(__file__).parents[1] / "fixtures" / "hostile"
EXPECTED = dict(line.split("\t", 1) for line in (HOSTILE / "EXPECTED.tsv").read_text().splitlines()[1:])
MESSAGE = re.compile(r"^.+:\d+: \S")


def test_the_corpus_is_complete():
    files = {p.name for p in HOSTILE.glob("*.yaml")}
    assert files == set(EXPECTED) and len(files) >= 100


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_is_refused_with_file_and_line(name):
    path = HOSTILE / name
    began = time.monotonic()
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}:") and MESSAGE.match(message), message
    assert EXPECTED[name] in message, f"{message!r} does not hold {EXPECTED[name]!r}"
    assert time.monotonic() - began < 5, "refusing one file must not take long"
