"""Test helpers shipped as real code: fresh demo databases without paying for the slow
PIN hashes each time, and clock values inside or outside trading hours."""

from __future__ import annotations

import shutil
import tempfile
from datetime import date, datetime, time
from pathlib import Path

from ivr.adapters.brokerage.clock import SHANGHAI, current_trading_date, next_trading_day
from ivr.adapters.brokerage.db import connect

_template: Path | None = None


def fresh_database(path: Path) -> Path:
    """Create a newly seeded demo database at `path` (copied from one seeded template per
    process; the connection is closed, so the WAL is checkpointed into the main file)."""
    global _template
    if _template is None or not _template.exists():
        _template = Path(tempfile.mkdtemp(prefix="ivr-brokerage-")) / "template.sqlite3"
        with connect(_template):
            pass
    shutil.copyfile(_template, path)
    return path


def trading_time(hour: int = 10, minute: int = 0, day: date | None = None) -> datetime:
    """A moment on the database's trading day (or `day`), in Asia/Shanghai."""
    return datetime.combine(day or current_trading_date(), time(hour, minute), SHANGHAI)


def next_day_time(hour: int = 10, minute: int = 0) -> datetime:
    """The same clock time on the next trading day."""
    return trading_time(hour, minute, next_trading_day(current_trading_date()))
