"""The gateway's service map: which port each service holds now, in a file the controller
replaces atomically (write, then rename), so a connection never reads half a map."""
from __future__ import annotations

import json
import os
from pathlib import Path

MAP_FILE = Path("/tmp/mtdlab-sapp/map.json")   # /tmp: the gateway runs non-root on a read-only root


def read_map() -> dict[str, int]:
    try:
        return json.loads(MAP_FILE.read_text())
    except FileNotFoundError:
        return {}


def write_map(ports: dict[str, int]) -> None:
    MAP_FILE.parent.mkdir(parents=True, exist_ok=True)
    tmp = MAP_FILE.with_suffix(".next")
    tmp.write_text(json.dumps(ports, sort_keys=True))
    os.replace(tmp, MAP_FILE)
