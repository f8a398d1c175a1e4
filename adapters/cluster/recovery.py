"""A peer closes the calls a dead instance was holding, without waiting for its restart.

Place: the cluster adapter, called by `LocalCluster` (local.py) when it sees an instance
die. The instance's record store closes the calls a crash cut off as `interrupted` when it
opens; here its supervisor opens that store itself, at once, while the instance is down
(a restart may be 1 to 30 s away, or never on a machine that is gone), so reports and the
live view stop counting those calls as up. On the per-instance SQLite store this is safe
because the instance is dead and its restart comes after; with a shared database the same
step is the store's per-instance recovery (docs/cluster.md).
"""

from __future__ import annotations

from pathlib import Path

import trio

from ivr.adapters.postgres.records import open_postgres_call_records
from ivr.adapters.storage.records import open_sqlite_call_records

RECORDS_FILE = "calls.sqlite3"  # in an instance's data directory (hosting/layout.py)


def close_cut_calls(data_dir: Path, *, database_url: str = "", instance: str = "") -> list[str]:
    """Close the open calls of the (dead) instance as `interrupted`: those it holds in the
    shared database under its instance id when `database_url` is given, else those in the
    SQLite store of its `data_dir`; their call ids (none if it has no store yet)."""
    if database_url:

        async def recover_shared() -> list[str]:
            async with open_postgres_call_records(database_url, instance=instance, size=1) as store:
                return list(store.recovered_at_open)

        return trio.run(recover_shared)
    path = data_dir / RECORDS_FILE
    if not path.exists():
        return []

    async def recover() -> list[str]:
        async with open_sqlite_call_records(path) as store:
            return list(store.recovered_at_open)

    return trio.run(recover)
