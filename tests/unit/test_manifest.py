"""The manifest's content and the rerun verdict, without an engine (the engine's answers are
stood in for by a fake client; tests/integration/test_sweep.py reads a real one)."""
import json
from types import SimpleNamespace

from mtdlab.experiments import load_scenario
from mtdlab.research import manifest

ROOT = manifest.REPO


class FakeDocker:
    """What the manifest asks the engine: two image ids, the engine's version, and the package
    list a throwaway container prints; records how that container was asked for."""

    def __init__(self):
        self.run_kwargs = None
        self.images = SimpleNamespace(get=lambda name: SimpleNamespace(id=f"sha256:{name.split(':')[0][-4:]}"))
        self.containers = SimpleNamespace(run=self._run)

    def _run(self, image, command, **kwargs):
        self.run_kwargs = {"image": image, "command": command, **kwargs}
        return b"nginx=1.22.1-9\nopenssh-server=1:9.2p1-2\npython3=3.11.2-1\n"

    def version(self):
        return {"Version": "20.10.24"}


def test_the_manifest_names_images_packages_scenario_code_and_host(tmp_path, monkeypatch):
    fake = FakeDocker()
    import docker
    monkeypatch.setattr(docker, "from_env", lambda: fake)
    (tmp_path / "scenario.yaml").write_text((ROOT / "scenarios" / "fast-exponential.yaml").read_text())
    m = manifest.write_manifest(tmp_path, load_scenario(tmp_path / "scenario.yaml"), 300.0)
    assert json.loads((tmp_path / "manifest.json").read_text()) == m
    assert m["schema"] == "mtdlab.manifest/1" and m["duration_s"] == 300.0
    import hashlib
    assert m["scenario"] == {"name": "fast-exponential", "seed": 5,
                             "sha256": hashlib.sha256((tmp_path / "scenario.yaml").read_bytes()).hexdigest()}
    images = m["images"]
    assert images["mtdlab/lab:latest"] == "sha256:/lab" and images["mtdlab/base:latest"] == "sha256:base"
    listed = [line.strip() for line in (ROOT / "images" / "packages.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    assert images["package_list"]["packages"] == listed and len(images["package_list"]["sha256"]) == 64
    assert images["installed"] == ["nginx=1.22.1-9", "openssh-server=1:9.2p1-2", "python3=3.11.2-1"]
    # the package list comes from a container with nothing: no network, no capabilities, nobody, labelled
    run = fake.run_kwargs
    assert run["network_mode"] == "none" and run["cap_drop"] == ["ALL"] and run["remove"] is True
    assert run["user"] == "65534:65534" and run["labels"]["mtdlab.owner"] == "mtdlab"
    assert m["host"]["cores"] >= 1 and m["host"]["docker_engine"] == "20.10.24" and m["host"]["kernel"]
    assert set(m["mtdlab"]) == {"version", "commit", "dirty"}


def summary(half, ci, act, act_ci):
    return {"decay": {"half_life_s": half, "half_life_ci95": ci, "by_service": {}},
            "act_after_delay": {"success_rate": act, "success_ci95": act_ci}}


def folder(tmp_path, name, s, m=None):
    d = tmp_path / name
    d.mkdir()
    (d / "summary.json").write_text(json.dumps(s))
    if m:
        (d / "manifest.json").write_text(json.dumps(m))
    return d


def test_compare_says_which_figures_fall_inside_the_old_intervals_and_what_setup_differs(tmp_path):
    m = {"scenario": {"sha256": "a", "seed": 1}, "images": {"mtdlab/lab:latest": "x", "installed": ["p=1"]},
         "mtdlab": {"commit": "c"}, "host": {"cores": 2, "kernel": "k", "docker_engine": "e"}}
    old = folder(tmp_path, "old", summary(3.8, [3.3, 4.8], 0.40, [0.34, 0.48]), m)
    same = folder(tmp_path, "same", summary(3.5, [3.0, 4.1], 0.36, [0.30, 0.42]), m)
    v = manifest.compare_runs(old, same)
    assert v["all_inside"] and v["figures"]["decay.half_life_s"] == {
        "old": 3.8, "old_ci95": [3.3, 4.8], "new": 3.5, "new_ci95": [3.0, 4.1], "inside": True}
    assert v["setup"] == {"compared": True, "scenario": True, "images": True, "packages": True, "code": True,
                          "host": True}
    moved = {**m, "images": {"mtdlab/lab:latest": "y", "installed": ["p=2"]}}
    off = folder(tmp_path, "off", summary(5.0, [4.4, 5.9], 0.41, [0.35, 0.47]), moved)
    v = manifest.compare_runs(old, off)
    assert not v["all_inside"] and not v["figures"]["decay.half_life_s"]["inside"]
    assert v["figures"]["act_after_delay.success_rate"]["inside"]
    assert (v["setup"]["images"], v["setup"]["packages"], v["setup"]["scenario"]) == (False, False, True)
    bare = folder(tmp_path, "bare", summary(3.6, [3.1, 4.2], None, [None, None]))
    v = manifest.compare_runs(old, bare)
    assert list(v["figures"]) == ["decay.half_life_s"] and v["setup"]["compared"] is False
