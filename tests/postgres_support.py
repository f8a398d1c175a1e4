"""A throwaway PostgreSQL server for the tests: one per test session, started on first use.

`postgres_server` is the running server (fsync off: its data is not kept); `postgres_url`
gives each test a database of its own, so stores and their migrations start empty. Register
with `pytest_plugins = ["tests.postgres_support"]` or import the fixtures in a conftest.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.adapters.postgres.server import PostgresServer, create_database, start_server

_numbers = itertools.count(1)


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    folder = Path(tempfile.mkdtemp(prefix="ivr-pg-"))
    server = start_server(folder, port=free_tcp_port(), durable=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """The URL of a new, empty database on the session's server."""
    return create_database(postgres_server, f"test_{next(_numbers)}")
