"""Class files (mtdlab.classroom.classfile): validated like scenarios, errors at file:line: key,
and a port plan and seeds that keep teams apart."""
import textwrap
from pathlib import Path

import pytest

from mtdlab.classroom.classfile import PORT_STRIDE, load_class
from mtdlab.contract.reader import ScenarioError

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, text: str) -> Path:
    (tmp_path / "s.yaml").write_text((ROOT / "scenarios" / "demo.yaml").read_text())
    path = tmp_path / "class.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_the_example_class_loads():
    plan = load_class(ROOT / "classes" / "example.yaml")
    assert plan.teams == ("team-1", "team-2", "team-3") and plan.bind == "127.0.0.1"
    assert plan.scenario == ROOT / "scenarios" / "classroom.yaml"


def test_port_plan_and_seeds_keep_teams_apart(tmp_path):
    plan = load_class(write(tmp_path, """
        name: c
        scenario: s.yaml
        teams: [red, blue, green]
        seed: 5
        port_base: 30000
    """))
    ports = [p for t in plan.teams for p in plan.ports(t).values()]
    assert len(ports) == len(set(ports)) and min(ports) == 30000 and max(ports) < 30000 + PORT_STRIDE * 3
    seeds = {plan.team_seed(t) for t in plan.teams}
    assert len(seeds) == 3 and plan.team_seed("red") == load_class(plan.file).team_seed("red")
    assert plan.lab_name("red") == "mtdclass-c-red"


@pytest.mark.parametrize("text, where", [
    ("name: c\nscenario: s.yaml\nteams: 2\n", "3: seed: missing"),            # reported at the mapping
    ("name: c\nscenario: s.yaml\nteams: 0\nseed: 1\n", ":3: teams: expected"),
    ("name: c\nscenario: s.yaml\nteams: 31\nseed: 1\n", ":3: teams: expected"),
    ("name: c\nscenario: s.yaml\nteams: [red, red]\nseed: 1\n", ":3: teams: team 'red' is named twice"),
    ("name: c\nscenario: s.yaml\nteams: [Red]\nseed: 1\n", ":3: teams: expected team names"),
    ("name: c\nscenario: s.yaml\nteams: {a: 1}\nseed: 1\n", ":3: teams: expected a number"),
    ("name: C!\nscenario: s.yaml\nteams: 2\nseed: 1\n", ":1: name: expected a name"),
    ("name: c\nscenario: nowhere.yaml\nteams: 2\nseed: 1\n", ":2: scenario: expected a scenario file"),
    ("name: c\nscenario: s.yaml\nteams: 2\nseed: 1\nbind: 0.0.0.999\n", ":5: bind: expected an IPv4 address"),
    ("name: c\nscenario: s.yaml\nteams: 30\nseed: 1\nport_base: 65500\n", ":5: port_base: expected room for 30 teams"),
    ("name: c\nscenario: s.yaml\nteams: 2\nseed: 1\nexercises: []\n", ":5: exercises: expected a list of exercise"),
    ("name: c\nscenario: s.yaml\nteams: 2\nseed: 1\nexercises: [recon-race, ctf]\n", ":5: exercises: expected one of"),
    ("name: c\nscenario: s.yaml\nteams: 2\nseed: 1\nflag_grace_s: -1\n", ":5: flag_grace_s: expected"),
    ("name: c\nscenario: s.yaml\nteams: 2\nseed: 1\nsubnets: 10.1.0.0/23\n", ":5: subnets: expected room for one /24 per team"),
    ("name: c\nscenario: s.yaml\nteams: 2\nseed: 1\nsubnets: nonsense\n", ":5: subnets: expected an IPv4 network"),
    ("name: c\nscenario: s.yaml\nteams: 2\nseed: 1\nport_base: 1024\n", ":5: port_base: expected a port above 1024"),
    ("name: c\nscenario: s.yaml\nteams: 2\nseed: 1\nscripted_attacker: maybe\n", ":5: scripted_attacker: expected true or false"),
    ("name: c\nscenario: s.yaml\nteams: 2\nseed: 1\nwhatever: 1\n", ":5: whatever: unknown key"),
    ("name: c\nteams: [red, {name: blue, scenario: s.yaml}]\nseed: 1\n", "1: scenario: missing; required unless every team"),
    ("name: c\nteams: [{name: blue, scenario: none.yaml}]\nseed: 1\n", ":2: teams.scenario: expected a scenario file"),
    ("name: c\nteams: [{name: blue, colour: red}]\nseed: 1\n", ":2: teams.colour: unknown key"),
    ("name: c\nscenario: s.yaml\nteams: [{scenario: s.yaml}]\nseed: 1\n", ":3: teams.name: missing"),
    ("name: c\nscenario: s.yaml\nteams: [{name: Blue}]\nseed: 1\n", ":3: teams: expected team names"),
])
def test_bad_class_files_say_where_and_what(tmp_path, text, where):
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as err:
        load_class(path)
    message = str(err.value)
    assert message.startswith(str(path)) and where.split(": ", 1)[-1] in message, message
    if where.startswith(":"):
        assert f"{path}{where.split(' ', 1)[0]}" in message, message


def test_each_team_gets_its_own_subnets_and_the_scoreboard_one_after(tmp_path):
    import ipaddress
    plan = load_class(write(tmp_path, "name: c\nscenario: s.yaml\nteams: 30\nseed: 1\nsubnets: 10.50.0.0/16\n"))
    nets = [ipaddress.ip_network(n) for t in plan.teams for n in plan.networks(t).values()]
    nets.append(ipaddress.ip_network(plan.board_subnet))
    assert len(nets) == 30 * 5 + 1 and all(n.subnet_of(plan.subnets) for n in nets)
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
    assert plan.scoreboard_port == plan.port_base - 1


def test_a_team_may_run_a_scenario_of_its_own(tmp_path):
    (tmp_path / "sapp.yaml").write_text((ROOT / "scenarios" / "sapp.yaml").read_text())
    plan = load_class(write(tmp_path, """
        name: c
        scenario: s.yaml
        teams: [red, {name: blue, scenario: sapp.yaml}, green]
        seed: 1
    """))
    assert plan.teams == ("red", "blue", "green")
    assert plan.scenario_of("red") == plan.scenario_of("green") == tmp_path / "s.yaml"
    assert plan.scenario_of("blue") == tmp_path / "sapp.yaml"
    assert plan.scenarios == [tmp_path / "s.yaml", tmp_path / "sapp.yaml"]


def test_exercises_of_a_mixed_class_fit_some_team(tmp_path):
    """Unnamed: every exercise some team's lab allows; named: each must fit some team's lab."""
    from mtdlab.experiments import load_scenario
    from mtdlab.host.classroom import chosen_exercises
    from mtdlab.host.lab import LabError
    plan = load_class(write(tmp_path, "name: c\nscenario: s.yaml\nteams: [red, blue]\nseed: 1\n"))
    demo, sapp = load_scenario(ROOT / "scenarios" / "demo.yaml"), load_scenario(ROOT / "scenarios" / "sapp.yaml")
    assert "gateway" not in chosen_exercises(plan, {"red": demo, "blue": demo})
    assert "gateway" in chosen_exercises(plan, {"red": demo, "blue": sapp})
    named = load_class(write(tmp_path, "name: c\nscenario: s.yaml\nteams: [red, blue]\nseed: 1\nexercises: [gateway]\n"))
    assert chosen_exercises(named, {"red": demo, "blue": sapp}) == ["gateway"]
    with pytest.raises(LabError, match="exercises: gateway cannot be done"):
        chosen_exercises(named, {"red": demo, "blue": demo})
