"""The local PostgreSQL server `ivr cluster up` and the tests start (`adapters/postgres/server.py`)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import psycopg
import pytest
from postgres_support import free_tcp_port

from ivr.adapters.errors import ConfigError
from ivr.adapters.postgres.server import PostgresServer, start_server


def test_each_test_database_starts_empty_and_is_its_own(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE marks (n integer)")
        conn.execute("INSERT INTO marks VALUES (7)")
        row = conn.execute("SELECT n FROM marks").fetchone()
    assert row == (7,)
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        found = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'marks'").fetchone()
    assert found == (0,)


def test_a_restarted_server_keeps_its_committed_data() -> None:
    folder = Path(tempfile.mkdtemp(prefix="ivr-pg-restart-"))
    server = start_server(folder, port=free_tcp_port())
    try:
        with psycopg.connect(server.url, autocommit=True) as conn:
            conn.execute("CREATE TABLE kept (word text)")
            conn.execute("INSERT INTO kept VALUES ('durable')")
        server.stop()
        server = start_server(folder, port=free_tcp_port())
        with psycopg.connect(server.url) as conn:
            assert conn.execute("SELECT word FROM kept").fetchall() == [("durable",)]
    finally:
        server.stop()


def test_a_missing_install_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IVR_POSTGRES_BIN", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match=r"IVR_POSTGRES_BIN=.*no initdb"):
        start_server(tmp_path / "pg", port=free_tcp_port())


def test_a_folder_the_postgres_user_cannot_enter_is_refused_before_anything_starts() -> None:
    locked = Path(tempfile.mkdtemp(prefix="ivr-pg-locked-"))  # 0700, owned by us
    if locked.owner() != "root":
        pytest.skip("only root hands the folder to the postgres user")
    with pytest.raises(ConfigError, match="cannot reach this folder"):
        start_server(locked / "inner", port=free_tcp_port())
