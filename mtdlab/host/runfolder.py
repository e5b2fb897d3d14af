"""The run folder after the lab is gone: containers wrote into it, so host-side code trusts
nothing there to be a plain file.

A lab container (the controller, or the attacker in its attacker/ folder) could plant a
symbolic link that the report or a later run would read or write through, as the host user,
to anywhere. Once the lab is down, nothing can plant another; remove_links() then takes out
every link and special file, and the report is written only after it.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path


def remove_links(folder: Path) -> list[str]:
    """Remove every symlink, FIFO, socket or device under folder (never following a link);
    returns their paths relative to folder."""
    removed = []
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(root, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode) or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                path.unlink()
                removed.append(str(path.relative_to(folder)))
        dirs[:] = [d for d in dirs if Path(root, d).is_dir() and not Path(root, d).is_symlink()]
    return sorted(removed)
