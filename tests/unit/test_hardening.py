"""The confinement table is stated once (mtdlab.contract.hardening): compose.yaml's rows and
docs/security.md must say the same, and what launch applies is the row."""
from pathlib import Path

import yaml

from mtdlab.contract.hardening import CONFINEMENT, CPU_SHARES_DEFAULT, LOG_OPTIONS, TMPFS, markdown, run_options
from mtdlab.host.runfolder import remove_links

ROOT = Path(__file__).parents[2]
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
CLASS_COMPOSE = yaml.safe_load((ROOT / "compose.class.yaml").read_text())
BOARD_COMPOSE = yaml.safe_load((ROOT / "compose.board.yaml").read_text())


def test_compose_services_match_the_table():
    services = {**COMPOSE["services"], **BOARD_COMPOSE["services"],
                **{k: v for k, v in CLASS_COMPOSE["services"].items() if k not in COMPOSE["services"]}}
    for name, service in services.items():
        row = CONFINEMENT[name]
        user = "${MTDLAB_UID:-0}:${MTDLAB_GID:-0}" if row.user == "host" else row.user
        assert service["user"] == user, name
        assert service["cap_drop"] == ["ALL"] and sorted(service.get("cap_add", [])) == sorted(row.caps), name
        assert service["security_opt"] == ["no-new-privileges"] and service["read_only"] is True, name
        assert service["mem_limit"] == row.memory and service["pids_limit"] == row.pids, name
        assert service.get("cpu_shares", CPU_SHARES_DEFAULT) == row.cpu_shares, name
        assert service["logging"]["options"] == LOG_OPTIONS, name
        assert {t.split(":")[0] for t in service["tmpfs"]} >= set(TMPFS), name


def test_the_workstation_is_on_its_range_network_only_and_mounts_nothing():
    workstation = CLASS_COMPOSE["services"]["workstation"]
    assert workstation["networks"] == ["range"] and "volumes" not in workstation and "ports" not in workstation
    assert CLASS_COMPOSE["networks"]["range"]["internal"] is True
    for name, service in {**COMPOSE["services"], **CLASS_COMPOSE["services"]}.items():
        if "range" in service.get("networks", []):
            assert name in ("target", "workstation", "door"), name
    # The proxy serves every current flag: in a class lab its ports are the instructor's loopback.
    assert "MTDLAB_CLASS_BIND" in CLASS_COMPOSE["services"]["door"]["ports"][0]


def test_only_the_fence_mounts_the_docker_socket_and_the_attacker_only_its_folder():
    for name, service in COMPOSE["services"].items():
        sockets = [v for v in service.get("volumes", []) if "docker.sock" in v]
        assert bool(sockets) == (name == "fence"), name
    assert COMPOSE["services"]["attacker"]["volumes"] == [
        "${MTDLAB_RUN_DIR:-./runs/demo}/attacker:/lab/run/attacker", "attacker-view:/lab/scenario:ro"]
    assert COMPOSE["networks"]["lab"]["internal"] and COMPOSE["networks"]["api"]["internal"]
    assert COMPOSE["services"]["controller"]["environment"]["DOCKER_HOST"] == "tcp://fence:2375"
    assert "api" not in COMPOSE["services"]["attacker"]["networks"]


def test_launched_containers_get_their_row():
    options = run_options("ssh")
    assert options["cap_drop"] == ["ALL"] and options["cap_add"] == list(CONFINEMENT["ssh"].caps)
    assert options["read_only"] and options["security_opt"] == ["no-new-privileges"]
    assert options["mem_limit"] == CONFINEMENT["ssh"].memory and options["pids_limit"] == CONFINEMENT["ssh"].pids
    assert run_options("web")["cap_add"] is None and run_options("web")["user"] == "10001"


def test_docs_show_the_table():
    assert markdown() in (ROOT / "docs" / "security.md").read_text()


def test_links_and_special_files_in_a_run_folder_are_removed(tmp_path):
    (tmp_path / "attacker").mkdir()
    (tmp_path / "truth.jsonl").write_text("{}\n")
    (tmp_path / "attacker" / "observations.jsonl").symlink_to("/etc/passwd")
    (tmp_path / "attacker" / "out").symlink_to("/")
    import os
    os.mkfifo(tmp_path / "attacker" / "pipe")
    assert remove_links(tmp_path) == ["attacker/observations.jsonl", "attacker/out", "attacker/pipe"]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["attacker", "truth.jsonl"]


def test_event_logs_that_are_links_are_refused(tmp_path):
    import errno

    import pytest

    from mtdlab.contract.events import read_events
    (tmp_path / "real.jsonl").write_text('{"event": "x"}\n')
    (tmp_path / "link.jsonl").symlink_to(tmp_path / "real.jsonl")
    assert list(read_events(tmp_path / "real.jsonl")) == [{"event": "x"}]
    with pytest.raises(OSError) as info:
        list(read_events(tmp_path / "link.jsonl"))
    assert info.value.errno == errno.ELOOP
