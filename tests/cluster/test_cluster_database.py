"""`ivr cluster up` and the shared database: every instance gets the one PostgreSQL URL and
a name of its own on it (`instance-n`, the same across its restarts, which recovery by
instance needs); a local server's folder is one its `postgres` user can enter, also when
we are root and the data folder is not (a fresh clone under /root)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from ivr.adapters.cluster.local import ClusterPlan
from ivr.adapters.cluster.recovery import close_cut_calls
from ivr.adapters.errors import ConfigError
from ivr.adapters.postgres.records import open_postgres_call_records

URL = "postgresql://ivr@127.0.0.1:5433/ivr"


def _database_args(command: list[str]) -> tuple[str | None, str | None]:
    def after(flag: str) -> str | None:
        return command[command.index(flag) + 1] if flag in command else None

    return after("--database-url"), after("--instance-id")


def test_every_instance_gets_the_shared_url_and_a_name_of_its_own(tmp_path: Path) -> None:
    plan = ClusterPlan(tmp_path, instances=3, database_url=URL).check()
    commands = [plan.serve_command("ivr", n) for n in plan.numbers]
    assert [_database_args(c) for c in commands] == [(URL, f"instance-{n}") for n in (1, 2, 3)]


def test_without_a_shared_database_the_instances_keep_their_own_files(tmp_path: Path) -> None:
    plan = ClusterPlan(tmp_path, database_url=URL, shared_database=False).check()
    assert _database_args(plan.serve_command("ivr", 1)) == (None, None)


@pytest.mark.parametrize("flag", ["--database-url", "--instance-id"])
def test_the_database_options_of_ivr_serve_are_the_clusters(tmp_path: Path, flag: str) -> None:
    with pytest.raises(ConfigError, match=f"{flag} is set per instance by ivr cluster"):
        ClusterPlan(tmp_path, serve_args=(flag, "x")).check()


def test_the_local_servers_folder_is_one_its_postgres_user_can_enter(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    folder = ClusterPlan(closed / "cluster", postgres_port=5999).postgres_folder()
    if os.geteuid() != 0:
        assert folder == closed.resolve() / "cluster" / "postgres"  # the server runs as us
        return
    assert folder == Path("/var/tmp/ivr-cluster-5999/postgres")
    probe = ["runuser", "-u", "postgres", "--", "test", "-x", "/var/tmp"]
    assert subprocess.run(probe, check=False).returncode == 0
    opened = tmp_path / "opened"
    opened.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    for parent in tmp_path.parents:
        if subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(parent)]).returncode:
            return  # the temporary folder's parents are closed: nothing more to see here
    assert ClusterPlan(opened / "cluster").postgres_folder() == opened.resolve() / "cluster" / "postgres"


async def test_a_dead_instances_calls_on_the_shared_database_are_closed_by_its_supervisor_and_no_others(
    postgres_url: str, tmp_path: Path
) -> None:
    at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    for instance in ("instance-1", "instance-2"):
        async with open_postgres_call_records(postgres_url, instance=instance) as store:
            await store.call_started(
                f"up-on-{instance}", flow="main", caller="13800138000", dialed="95500", at=at
            )
    cut = await trio.to_thread.run_sync(
        lambda: close_cut_calls(tmp_path, database_url=postgres_url, instance="instance-2")
    )
    assert cut == ["up-on-instance-2"]
    async with open_postgres_call_records(postgres_url, instance="reader") as store:
        dead = await store.get_call("up-on-instance-2")
        alive = await store.get_call("up-on-instance-1")
    assert dead is not None and dead.how == "interrupted"
    assert alive is not None and alive.how is None
