"""Integration fixtures: real labs on the real Docker engine, one compose project each.

Every lab is removed after its test, and the test fails if anything labelled for it is
left: containers, networks or volumes.
"""
import secrets
import textwrap

import docker
import pytest

from mtdlab.contract import labels
from mtdlab.host.lab import Lab


@pytest.fixture(scope="session")
def client():
    c = docker.from_env()
    c.ping()
    c.images.get("mtdlab/lab:latest")  # `make test` builds it first
    return c


def lab_resources(client, name):
    by_project = {"label": f"{labels.COMPOSE_PROJECT}={name}"}
    return (client.containers.list(all=True, filters=by_project)
            + client.containers.list(all=True, filters={"label": f"{labels.LAB}={name}"})
            + client.networks.list(filters=by_project) + client.volumes.list(filters=by_project))


@pytest.fixture(scope="module")
def make_lab(client, tmp_path_factory):
    """make_lab(scenario_yaml, services=(), env=None) -> a started Lab, torn down after the module."""
    made = []

    def make(scenario: str, services=("target", "proxy", "controller"), env: dict | None = None) -> Lab:
        base = tmp_path_factory.mktemp("lab")
        (base / "scenario").mkdir()
        path = base / "scenario" / "scenario.yaml"
        path.write_text(textwrap.dedent(scenario))
        lab = Lab(f"mtdtest-{secrets.token_hex(3)}", path, base / "run", extra_env=env)
        made.append(lab)
        return lab.up(tuple(services))

    yield make
    for lab in made:
        lab.down()
        left = lab_resources(client, lab.name)
        assert not left, f"lab {lab.name} left {left} behind"


def events_of(lab, kind, **match):
    return [e for e in lab.events() if e["event"] == kind and all(e.get(k) == v for k, v in match.items())]


def serving(lab, containers):
    """The instances among containers apart from standbys not yet opened (controller/standby.py:
    the next hop's instance, started ahead, listening on nothing until its hop logs it started)."""
    opened = {e["container"] for e in events_of(lab, "hop.instance_started")}
    return [c for c in containers if "MTDLAB_STANDBY=1" not in (c.attrs["Config"]["Env"] or []) or c.id in opened]


def hops_done(lab, service):
    return len([e for e in events_of(lab, "hop.done", service=service) if e["hop"] >= 1])
