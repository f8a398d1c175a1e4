"""The behaviour every `CallRecords` implementation must show, as reusable checks.

Each check gets a harness: the implementation under test plus a way to read back what it
kept. `test_records_conformance.py` runs every check against every implementation that
exists (the SQLite store, and `ivr.runtime.testing.MemoryCallRecords`), so the in-memory
fake used by flow tests can never drift from the durable store.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Protocol

import trio

from ivr.runtime.ports import CallEvent, CallRecords, Recording

T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

CallHeader = tuple[str, str, str, str | None]  # flow, caller, dialed, how (None while in progress)
EventLine = tuple[str, str | None, Mapping[str, object]]  # kind, node, detail


class RecordsHarness(Protocol):
    @property
    def records(self) -> CallRecords: ...

    async def call(self, call_id: str) -> CallHeader | None: ...

    async def events(self, call_id: str) -> list[EventLine]: ...

    async def recordings(self, call_id: str) -> list[tuple[Recording, Mapping[str, object]]]: ...


Check = Callable[[RecordsHarness], Awaitable[None]]
CHECKS: list[Check] = []


def check(function: Check) -> Check:
    CHECKS.append(function)
    return function


async def start(h: RecordsHarness, call_id: str, flow: str = "main") -> None:
    await h.records.call_started(call_id, flow=flow, caller="13800138000", dialed="95500", at=T0)


@check
async def a_started_call_is_in_progress_until_it_ends(h: RecordsHarness) -> None:
    await start(h, "c1")
    assert await h.call("c1") == ("main", "13800138000", "95500", None)
    await h.records.call_ended("c1", how="completed", at=T0 + timedelta(seconds=42))
    assert await h.call("c1") == ("main", "13800138000", "95500", "completed")


@check
async def an_unknown_call_has_no_record(h: RecordsHarness) -> None:
    assert await h.call("never") is None


@check
async def events_keep_their_order_node_and_exact_detail(h: RecordsHarness) -> None:
    await start(h, "c1")
    details: list[dict[str, object]] = [
        {},
        {"digits": "1"},
        {"operation": "cash", "result": {"cash": Decimal("1234.56")}, "codes": ["600000", "000001"]},
    ]
    for i, detail in enumerate(details):
        kind = ("node_entered", "input", "operation")[i]
        await h.records.call_event(CallEvent("c1", kind, T0 + timedelta(seconds=i), f"n{i}", detail))
    assert await h.events("c1") == [
        ("node_entered", "n0", {}),
        ("input", "n1", {"digits": "1"}),
        ("operation", "n2", details[2]),
    ]


@check
async def events_of_interleaved_calls_stay_apart(h: RecordsHarness) -> None:
    await start(h, "a")
    await start(h, "b")
    for i in range(3):
        await h.records.call_event(CallEvent("a", "log", T0, None, {"i": i}))
        await h.records.call_event(CallEvent("b", "log", T0, None, {"i": -i}))
    assert [d["i"] for _, _, d in await h.events("a")] == [0, 1, 2]
    assert [d["i"] for _, _, d in await h.events("b")] == [0, -1, -2]


@check
async def a_recording_is_linked_to_its_call_with_metadata(h: RecordsHarness) -> None:
    await start(h, "c1")
    recording = Recording("rec-1", Decimal("12.5"), "/var/rec/rec-1.wav", "key")
    await h.records.store_recording("c1", recording, {"kind": "complaint", "account": "1001"})
    assert await h.recordings("c1") == [(recording, {"kind": "complaint", "account": "1001"})]
    assert await h.recordings("other") == []


@check
async def concurrent_calls_all_land(h: RecordsHarness) -> None:
    async def one_call(n: int) -> None:
        call_id = f"call-{n}"
        await start(h, call_id)
        for i in range(10):
            await h.records.call_event(CallEvent(call_id, "node_entered", T0, f"n{i}", {}))
        await h.records.call_ended(call_id, how="hangup", at=T0)

    async with trio.open_nursery() as nursery:
        for n in range(20):
            nursery.start_soon(one_call, n)
    for n in range(20):
        header = await h.call(f"call-{n}")
        assert header is not None and header[3] == "hangup"
        assert [node for _, node, _ in await h.events(f"call-{n}")] == [f"n{i}" for i in range(10)]
