"""PostgreSQL going away under a running server: the call records wait in the server's
backlog (`ResilientRecords`, new calls refused meanwhile), and once PostgreSQL is back the
store reconnects by itself and every line lands, in order. A server of its own (the
launcher, `ivr.adapters.postgres.server`), since this test stops it."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trio

from ivr.adapters.hosting.resilient import ResilientRecords
from ivr.adapters.postgres.records import open_postgres_call_records
from ivr.adapters.postgres.server import PostgresServer, start_server
from ivr.runtime.ports import CallEvent

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    folder = Path(tempfile.mkdtemp(prefix="ivr-pg-outage-"))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = start_server(folder, port=port, durable=False)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def test_records_wait_while_postgresql_is_down_and_land_in_order_when_it_is_back(
    own_server: PostgresServer,
) -> None:
    async with (
        open_postgres_call_records(own_server.url, instance="a") as store,
        trio.open_nursery() as nursery,
    ):
        records = ResilientRecords(store, retry_every=0.2)
        await nursery.start(records.run)
        await records.call_started("c1", flow="main", caller="1", dialed="95500", at=T0)
        await trio.to_thread.run_sync(own_server.stop)
        for i in range(3):  # returns at once: kept in memory while the store is out of reach
            await records.call_event(CallEvent("c1", "log", T0 + timedelta(seconds=i), None, {"i": i}))
        await records.call_ended("c1", how="completed", at=T0 + timedelta(seconds=5))
        assert records.down and records.backlog == 4
        await trio.to_thread.run_sync(
            lambda: start_server(own_server.folder, port=own_server.port, durable=False)
        )
        with trio.fail_after(30):
            await records.drained()
        assert not records.down and records.lost == 0
        call = await store.get_call("c1")
        assert call is not None and call.how == "completed"
        assert [e.detail["i"] for e in await store.events("c1")] == [0, 1, 2]
        nursery.cancel_scope.cancel()
