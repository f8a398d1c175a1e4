"""Durable files: fsync a finished file and its folder before anyone is told it is saved.

Used where audio leaves the media layer (a recording that ends, a recording rewritten with
its muted spans filled): the call record that points at the file is written after this.
"""

from __future__ import annotations

import os
from pathlib import Path


def sync_to_disk(path: Path) -> None:
    """fsync `path` and its folder (so its name survives a crash too); no-op if absent."""
    if not path.exists():
        return
    for target, flags in ((path, os.O_RDONLY), (path.parent, os.O_RDONLY | os.O_DIRECTORY)):
        fd = os.open(target, flags)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
