"""Hostile scenario files: whatever the bytes, the loader ends in a typed scenario or a
ScenarioError naming file:line (what `mtdlab validate` prints, exit 2), never a traceback or a
hang. Each category the hardening issue lists, then Hypothesis over bytes and over YAML-like text."""
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtdlab.experiments import ScenarioError, load_scenario

ROOT = Path(__file__).parents[2]
BASE = """name: x
seed: 1
target:
  services:
    - name: web
      kind: web
      hop: {interval: {law: exponential, mean_s: 5}, pool: {ranges: ["9001-9099"]}}
"""
HOSTILE = {
    "latin-1": ("name: caf\xe9\n".encode("latin-1"), "not UTF-8 text"),
    "utf-16 with BOM": (BASE.encode("utf-16"), "not UTF-8 text"),
    "random bytes": (bytes(range(256))[::-1] * 3, "not UTF-8 text"),
    "NUL": (b"name: x\x00\n", "control character"),
    "escape character": (b"name: x\x1b[31m\n", "control character"),
    "deep flow": (("a: " + "[" * 5000 + "]" * 5000).encode(), "nested more than"),
    "deep block": ("".join(" " * i + "k:\n" for i in range(200)).encode(), "nested more than"),
    "python tag": (b"name: !!python/object/apply:os.system [ls]\nseed: 1\n", "YAML tags"),
    "local tag": (b"name: !local x\n", "YAML tags"),
    "!!int on text": (b"name: x\nseed: !!int abc\n", "YAML tags"),
    "!!float on text": (b"name: x\nseed: !!float abc\n", "YAML tags"),
    "!!bool on text": (b"name: x\nseed: !!bool maybe\n", "YAML tags"),
    "!!timestamp on text": (b"name: x\nseed: !!timestamp abc\n", "YAML tags"),
    "!!set on a mapping": (BASE.replace("target:", "target: !!set").encode(), "YAML tags"),
    "custom tag on a list": (BASE.replace('ranges: ["', 'ranges: !custom ["').encode(), "YAML tags"),
    "5,000-digit integer": (b"name: x\nseed: " + b"9" * 5000 + b"\n", "more than 30 digits"),
    "400-digit duration": (BASE.replace("seed: 1", "seed: 1\nduration_s: " + "9" * 400 + ".5").encode(),
                           "more than 30 digits"),
    "sequence as key": (b"? [a, b]\n: 1\n", "used as a key"),
    "mapping as key": (b"? {a: 1}\n: 1\n", "used as a key"),
    ".nan interval": (BASE.replace("mean_s: 5", "mean_s: .nan").encode(), "finite number"),
    ".inf duration": (BASE.replace("seed: 1", "seed: 1\nduration_s: .inf").encode(), "finite number"),
    "-.inf pool port": (BASE.replace('ranges: ["9001-9099"]', "ranges: [-.inf]").encode(), "port"),
    "name ending in a newline": (BASE.replace("name: x", 'name: "x\\n"').encode(), "expected lowercase"),
    "anchor bomb": (b"a: &a [1, 1]\nb: [*a, *a]\n", "anchors and aliases"),
    "huge file": (b"# " + b"x" * (300 * 1024) + b"\n", "larger than 256 KiB"),
}
MESSAGE = re.compile(r"^.+:\d+: \S")


def refused(tmp_path, data: bytes) -> str:
    path = tmp_path / "s.yaml"
    path.write_bytes(data)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return str(info.value)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_files_are_refused_with_file_and_line(tmp_path, name):
    data, expected = HOSTILE[name]
    message = refused(tmp_path, data)
    assert MESSAGE.match(message) and message.startswith(str(tmp_path)), message
    assert expected in message, message


def test_validate_command_exits_0_or_2_with_the_message(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(HOSTILE["python tag"][0])
    ok = subprocess.run([sys.executable, "-m", "mtdlab.host.cli", "validate", *sorted(map(str, (ROOT / "scenarios").glob("*.yaml")))],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.count(": ok (") == len(list((ROOT / "scenarios").glob("*.yaml")))
    no = subprocess.run([sys.executable, "-m", "mtdlab.host.cli", "validate", str(ROOT / "scenarios" / "demo.yaml"), str(bad)],
                        capture_output=True, text=True, timeout=60)
    assert no.returncode == 2 and f"{bad}:1: YAML tags" in no.stderr and "Traceback" not in no.stderr



def test_check_command_refuses_a_path_that_is_not_a_run_folder(tmp_path):
    for path in (ROOT / "scenarios" / "demo.yaml", tmp_path):   # a file, and a folder without a truth log
        out = subprocess.run([sys.executable, "-m", "mtdlab.host.cli", "check", str(path)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 2 and "is not a run folder" in out.stderr and "Traceback" not in out.stderr

def loads_or_refuses(path: Path, data: bytes) -> None:
    path.write_bytes(data)
    try:
        load_scenario(path)
    except ScenarioError as exc:
        assert MESSAGE.match(str(exc)), str(exc)


FUZZ = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.binary(max_size=600))
def test_fuzz_bytes(tmp_path, data):
    loads_or_refuses(tmp_path / "fuzz.yaml", data)


YAMLISH = st.lists(st.sampled_from(
    ["name: x\n", "seed: 1\n", "target:\n", "  services:\n", "    - name: web\n", "      kind: web\n",
     "      hop: {interval: {law: exponential, mean_s: 5}, pool: {ranges: [\"9001-9099\"]}}\n",
     "duration_s: ", ".nan", ".inf", "!!int ", "!x ", "&a ", "*a", "[", "]", "{", "}", ": ", "- ", "? ", "\n", "  ",
     "9" * 40, "-1", "0", "1e999", "\"\\n\"", "'", "\"", "#", "\t", "~", "null", "true", "2001-12-14", "x" * 50]),
    max_size=40).map("".join)


@FUZZ
@given(YAMLISH)
def test_fuzz_yaml_like_text(tmp_path, text):
    loads_or_refuses(tmp_path / "fuzz.yaml", text.encode())
