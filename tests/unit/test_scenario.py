"""Scenario validation: every valid fixture loads; every invalid one is refused with the
message its first line names (`# expect: ...`), which includes file line and key."""
from pathlib import Path

import pytest

from mtdlab.experiments import ScenarioError, load_scenario, parse_scenario

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scenarios"
SHIPPED = Path(__file__).parent.parent.parent / "scenarios"
VALID = sorted((FIXTURES / "valid").glob("*.yaml")) + sorted(SHIPPED.glob("*.yaml"))
INVALID = sorted((FIXTURES / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.name)
def test_valid_scenarios_load(path):
    scenario = load_scenario(path)
    assert scenario.services and scenario.source == path.read_text()


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_scenarios_are_refused_with_their_message(path):
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name} must start with '# expect: <message>'"
    expected = first[len("# expect: "):]
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert message.startswith(f"{path}:"), message
    assert expected in message, f"{message!r} does not contain {expected!r}"


def test_there_are_at_least_30_invalid_fixtures():
    assert len(INVALID) >= 30


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read the scenario file"):
        load_scenario(tmp_path / "nope.yaml")


def test_typed_objects():
    s = load_scenario(SHIPPED / "demo.yaml")
    web = s.service("web")
    assert web.kind == "web" and web.proxy_port == 8080
    assert web.hop.interval.law == "uniform" and web.hop.interval.mean == 10
    assert len(web.hop.pool) == 10000
    assert s.attacker.port_spec == "1-65535"


def test_alias_bomb_is_refused_quickly():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefgh", "bcdefghi"))
    with pytest.raises(ScenarioError, match="anchors and aliases are not allowed"):
        parse_scenario(bomb, "bomb.yaml")
