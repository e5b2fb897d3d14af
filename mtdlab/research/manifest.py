"""What a run was made with (manifest.json in every run folder), and whether a second run of the
same scenario agrees with the first (`mtdlab rerun`, `mtdlab compare OLD NEW`).

The manifest names everything a figure could depend on beyond the scenario: the images (ids,
the package list they were built from and the versions installed in them), the scenario's
hash and seed, mtdlab's version and commit, and the host (cores, kernel, engine). A rerun on
the same images and code is the same experiment; the manifest says when it is not.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from mtdlab.contract import labels

SCHEMA = "mtdlab.manifest/1"
REPO = Path(__file__).resolve().parents[2]
IMAGES = ("mtdlab/lab:latest", "mtdlab/base:latest")
# Figures whose 95% interval a rerun's value is held to: (point estimate, its interval), in summary.json.
CHECKED = [("decay.half_life_s", "decay.half_life_ci95"),
           ("act_after_delay.success_rate", "act_after_delay.success_ci95")]


def write_manifest(out: Path, scenario, duration_s: float) -> dict:
    text = (out / "scenario.yaml").read_bytes()
    manifest = {
        "schema": SCHEMA,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scenario": {"name": scenario.name, "sha256": hashlib.sha256(text).hexdigest(), "seed": scenario.seed},
        "duration_s": duration_s,
        "mtdlab": _mtdlab(),
        "images": _images(),
        "host": _host(),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _mtdlab() -> dict:
    from importlib import metadata
    try:
        version = metadata.version("mtdlab")
    except metadata.PackageNotFoundError:
        version = None

    def git(*args):
        try:
            r = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, timeout=10)
            return r.stdout.strip() if r.returncode == 0 else None
        except (OSError, subprocess.TimeoutExpired):
            return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"version": version, "commit": git("rev-parse", "HEAD"), "dirty": bool(status) if status is not None else None}


def _images() -> dict:
    import docker
    client = docker.from_env()
    packages_file = REPO / "images" / "packages.txt"
    listed = [line.strip() for line in packages_file.read_text().splitlines()
              if line.strip() and not line.lstrip().startswith("#")] if packages_file.exists() else []
    out: dict = {"package_list": {"file": "images/packages.txt", "packages": listed,
                                  "sha256": hashlib.sha256(packages_file.read_bytes()).hexdigest()
                                  if packages_file.exists() else None}}
    for name in IMAGES:
        try:
            out[name] = client.images.get(name).id
        except docker.errors.ImageNotFound:
            out[name] = None
    out["installed"] = _installed(client) if out["mtdlab/lab:latest"] else []
    return out


def _installed(client) -> list[str]:
    """package=version of everything installed in the lab image (a throwaway container: no
    network, no privileges, labelled so a reaper knows it)."""
    raw = client.containers.run("mtdlab/lab:latest", ["dpkg-query", "-W", "-f", "${Package}=${Version}\\n"],
                                remove=True, network_mode="none", user="65534:65534", cap_drop=["ALL"],
                                security_opt=["no-new-privileges"],
                                labels={labels.OWNER: labels.OWNER_VALUE, labels.ROLE: "manifest"})
    return sorted(raw.decode().split())


def _host() -> dict:
    import docker
    try:
        engine = docker.from_env().version().get("Version")
    except docker.errors.DockerException:
        engine = None
    return {"cores": os.cpu_count(), "kernel": platform.release(), "machine": platform.machine(),
            "os": platform.platform(), "python": sys.version.split()[0], "docker_engine": engine}


def compare_runs(old: Path, new: Path) -> dict:
    """Does the new run's value of each checked figure fall inside the old run's 95% interval?
    Two runs of one scenario differ by their own noise too: a new value falls inside the old
    interval less often than 95% (about 83% for two runs of the same size)."""
    a, b = (json.loads((d / "summary.json").read_text()) for d in (old, new))
    figures = {}
    for value_key, ci_key in CHECKED + _per_service(a):
        value, ci = _get(b, value_key), _get(a, ci_key)
        if value is None or not isinstance(ci, list) or None in ci:
            continue
        figures[value_key] = {"old": _get(a, value_key), "old_ci95": ci, "new": value,
                              "new_ci95": _get(b, ci_key), "inside": ci[0] <= value <= ci[1]}
    same = _same_setup(old, new)
    return {"old": str(old), "new": str(new), "figures": figures,
            "all_inside": bool(figures) and all(f["inside"] for f in figures.values()), "setup": same}


def _per_service(summary: dict) -> list[tuple[str, str]]:
    return [(f"decay.by_service.{s}.half_life_s", f"decay.by_service.{s}.half_life_ci95")
            for s in (summary.get("decay") or {}).get("by_service", {})]


def _same_setup(old: Path, new: Path) -> dict:
    """What the two manifests share: the same scenario, images, code and host, or what differs."""
    m = [json.loads((d / "manifest.json").read_text()) if (d / "manifest.json").is_file() else None for d in (old, new)]
    if None in m:
        return {"compared": False, "why": "a run folder has no manifest.json (made before manifests)"}
    a, b = m
    checks = {"scenario": a["scenario"]["sha256"] == b["scenario"]["sha256"] and a["scenario"]["seed"] == b["scenario"]["seed"],
              "images": a["images"].get("mtdlab/lab:latest") == b["images"].get("mtdlab/lab:latest"),
              "packages": a["images"].get("installed") == b["images"].get("installed"),
              "code": a["mtdlab"].get("commit") == b["mtdlab"].get("commit"),
              "host": {k: a["host"].get(k) for k in ("cores", "kernel", "docker_engine")}
              == {k: b["host"].get(k) for k in ("cores", "kernel", "docker_engine")}}
    return {"compared": True, **checks}


def _get(d: dict, key: str):
    for part in key.split("."):
        if isinstance(d, list):
            d = d[int(part)] if part.isdigit() and int(part) < len(d) else None
        elif isinstance(d, dict):
            d = d.get(part)
        else:
            return None
    return d
