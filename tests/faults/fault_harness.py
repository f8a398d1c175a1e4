"""Fault injection over many calls: the engine with the real adapters, a fault at a time.

Used by `tests/faults/test_faults.py` (a bounded number of calls per kind, in CI) and by
`scripts/fault_runs.py` (1,000 per kind, figures in the README). Each run starts the
engine on the fault service (`service/`: a lookup, prompts, an SMS through the outbox)
with the adapters `ivr serve` uses: `ServiceOperations` (python backend), SQLite call
records behind the hosted runtime's `ResilientRecords` and `TappedRecords`, the SQLite
outbox, espeak-ng behind the prompt cache. Callers are `MemoryCallLeg`s that render every
prompt through that speech stack first, as the SIP leg does.

Kinds of fault: a data operation that times out, is slow, raises or answers malformed
data; the records disk full or read-only for part of the run; espeak-ng missing from the
start or failing after the static prompts were rendered; the outbox refusing messages.

`check` then asserts what must hold whatever the fault: every call has a record, closed,
whose `how` and path are ones the flow or the engine's boundary declares for that fault;
the two SQLite files pass `integrity_check`; no call escaped `run_call` with an exception
(the engine kept serving). It returns counts for the report.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
import stat
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import trio

from ivr.adapters.data import ServiceOperations
from ivr.adapters.hosting.live import LiveCalls, TappedRecords
from ivr.adapters.hosting.metrics import Metrics
from ivr.adapters.hosting.prompts import CachedRenderer, static_prompts
from ivr.adapters.hosting.resilient import ResilientRecords
from ivr.adapters.hosting.routing import NoAgents
from ivr.adapters.messaging import Outbox, open_messaging
from ivr.adapters.speech.espeak import EspeakRenderer
from ivr.adapters.storage import SqliteCallRecords, open_sqlite_call_records
from ivr.flowlang.project import load_project
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.ports import SpokenPrompt
from ivr.runtime.testing import MemoryCallLeg

SERVICE = Path(__file__).parent / "service"
FLOW = "fault"
TOLD = ("hello", "find", "tell", "notify", "goodbye")
SORRY = ("hello", "find", "sorry", "goodbye")
NOT_SENT = ("hello", "find", "tell", "notify", "not_sent", "goodbye")


@dataclass(frozen=True)
class Kind:
    """One kind of fault: what the calls may do under it."""

    name: str
    paths: frozenset[tuple[str, ...]]  # node paths a call may take
    endings: frozenset[str]  # how a call may end
    mode: str = "ok"  # the data operation's behaviour (faultops)


def _kind(name: str, endings: set[str], *paths: tuple[str, ...], mode: str = "ok") -> Kind:
    return Kind(name, frozenset(paths), frozenset(endings), mode)


KINDS = {
    k.name: k
    for k in (
        _kind("op_timeout", {"completed"}, ("hello", "find", "too_slow", "goodbye"), mode="op_timeout"),
        _kind("op_slow", {"completed"}, TOLD, mode="op_slow"),
        _kind("op_raise", {"completed"}, SORRY, mode="op_raise"),
        _kind("op_malformed", {"completed"}, SORRY, TOLD, mode="op_malformed"),
        _kind("records_full", {"completed"}, TOLD),
        _kind("records_readonly", {"completed"}, TOLD),
        # The engine's boundary: the prompt that cannot be spoken fails the call, the
        # (pre-rendered) fallback is played, the record says "failed".
        _kind("tts_failing", {"failed"}, ("hello", "find", "tell")),
        _kind("tts_missing", {"failed"}, ("hello",)),
        _kind("outbox_failing", {"completed"}, NOT_SENT),
    )
}


@dataclass
class Report:
    kind: str
    calls: int
    endings: Counter[str] = field(default_factory=Counter)
    paths: Counter[tuple[str, ...]] = field(default_factory=Counter)
    escaped: int = 0  # calls whose run_call raised (must stay 0)
    seconds: float = 0.0
    records_backlog_peak: int = 0


class RenderingLeg(MemoryCallLeg):
    """A memory leg that, like the SIP leg, must render a prompt's text before playing it."""

    renderer: CachedRenderer | None = None

    async def play(self, prompt: SpokenPrompt, *, barge_in: bool) -> bool:
        if self.renderer is not None and prompt.text and not prompt.audio:
            await self.renderer.render(prompt.text, prompt.language)
        return await super().play(prompt, barge_in=barge_in)


def failing_espeak(folder: Path) -> Path:
    """An `espeak-ng` that always fails, as a broken installation does."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "espeak-ng"
    script.write_text("#!/bin/sh\necho 'espeak-ng: cannot open the voice data' >&2\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@dataclass
class Rig:
    """The engine and the adapters of one run, plus the switches that inject faults."""

    engine: Engine
    store: SqliteCallRecords
    resilient: ResilientRecords
    outbox: Outbox
    renderer: CachedRenderer
    espeak: EspeakRenderer

    async def records_medium(self, pragma: str) -> None:
        """Test-only: run a PRAGMA on the store's write connection (a full disk is
        `max_page_count` at the current size; read-only is `query_only`)."""
        conn: sqlite3.Connection = self.store.writer._conn
        await trio.to_thread.run_sync(conn.execute, pragma)

    async def outbox_medium(self, pragma: str) -> None:
        conn: sqlite3.Connection = self.outbox._conn
        await trio.to_thread.run_sync(conn.execute, pragma)


@asynccontextmanager
async def open_rig(
    workdir: Path, *, espeak: str = "espeak-ng", tts: Path | None = None
) -> AsyncIterator[Rig]:
    """The fault service's engine over real adapters in `workdir`."""
    project, diagnostics = load_project([str(SERVICE)])
    assert project.service is not None and not [d for d in diagnostics if d.is_error], diagnostics
    async with (
        open_sqlite_call_records(workdir / "calls.sqlite3") as store,
        open_messaging(workdir / "outbox.sqlite3", project.service, {}) as messaging,
        ServiceOperations.from_service(project.service, base_dir=SERVICE) as data,
        trio.open_nursery() as nursery,
    ):
        resilient = ResilientRecords(store, retry_every=0.2)
        await nursery.start(resilient.run)
        metrics = Metrics()
        records = TappedRecords(resilient, LiveCalls(), metrics)
        engine = Engine(project, CallPorts(data, messaging.channels, NoAgents(), records))
        speech = EspeakRenderer(tts or workdir / "tts", espeak=espeak)
        renderer = CachedRenderer(speech, metrics)
        await renderer.prerender(static_prompts(project))
        yield Rig(engine, store, resilient, messaging.outbox, renderer, speech)
        nursery.cancel_scope.cancel()


def faultops() -> object:
    """The fault service's plug-in module (imported as the service imports it)."""
    if str(SERVICE) not in sys.path:
        sys.path.append(str(SERVICE))
    return importlib.import_module("faultops")


async def run_kind(
    name: str, calls: int, workdir: Path, *, concurrency: int = 100, tts: Path | None = None
) -> Report:
    """`calls` calls under fault `name`; the report of what they did. Raises on a broken
    invariant (see `check`)."""
    kind = KINDS[name]
    await trio.to_thread.run_sync(lambda: workdir.mkdir(parents=True, exist_ok=True))
    ops = faultops()
    ops.MODE = kind.mode  # type: ignore[attr-defined]
    espeak = str(failing_espeak(workdir / "bin")) if name == "tts_missing" else "espeak-ng"
    report = Report(name, calls)
    start = trio.current_time()
    fresh = name.startswith("tts_")  # the faulty speech must not find prompts rendered by others
    async with open_rig(workdir, espeak=espeak, tts=None if fresh else tts) as rig:
        if name == "tts_failing":
            rig.espeak._espeak = str(failing_espeak(workdir / "bin"))
        switch = _switches(rig, name, calls)
        limiter = trio.CapacityLimiter(concurrency)
        async with trio.open_nursery() as nursery:
            for number in range(calls):
                await switch(number)
                await limiter.acquire_on_behalf_of(number)
                nursery.start_soon(_one_call, rig, number, report, limiter)
                report.records_backlog_peak = max(report.records_backlog_peak, rig.resilient.backlog)
        await switch(calls)
        with trio.fail_after(60):
            await rig.resilient.drained()
        await check(rig, kind, report)
    ops.MODE = "ok"  # type: ignore[attr-defined]
    report.seconds = trio.current_time() - start
    return report


def _switches(rig: Rig, name: str, calls: int) -> Callable[[int], object]:
    """What to do before call `number` starts (and once more at the end, with `calls`):
    records and outbox faults are on for the middle of the run."""
    on, off = calls // 5, calls * 3 // 5
    pragmas = {
        "records_full": ("PRAGMA max_page_count = 1", "PRAGMA max_page_count = 1073741823"),
        "records_readonly": ("PRAGMA query_only = 1", "PRAGMA query_only = 0"),
    }

    async def switch(number: int) -> None:
        if name in pragmas and number in (on, off):
            await rig.records_medium(pragmas[name][0 if number == on else 1])
        if name == "outbox_failing" and number == 0:
            await rig.outbox_medium("PRAGMA query_only = 1")
        if name == "outbox_failing" and number == calls:
            await rig.outbox_medium("PRAGMA query_only = 0")

    return switch


async def _one_call(rig: Rig, number: int, report: Report, limiter: trio.CapacityLimiter) -> None:
    leg = RenderingLeg(
        call_id=f"fault-{number:05d}", caller="13800138000", dialed="900", seconds_per_char=0.0005
    )
    leg.renderer = rig.renderer
    try:
        await rig.engine.run_call(leg, FLOW)
    except BaseException:
        report.escaped += 1  # counted, then checked: run_call must never raise
        raise
    finally:
        limiter.release_on_behalf_of(number)


async def check(rig: Rig, kind: Kind, report: Report) -> None:
    """Every call closed, on a declared path; both SQLite files intact; nothing escaped."""
    calls = await rig.store.list_calls(limit=report.calls + 10)
    assert len(calls) == report.calls, f"{kind.name}: {len(calls)} records for {report.calls} calls"
    for record in calls:
        events = await rig.store.events(record.call_id)
        path = tuple(e.node or "" for e in events if e.kind == "node_entered")
        report.endings[record.how or "open"] += 1
        report.paths[path] += 1
        assert record.ended_at is not None, f"{kind.name}: {record.call_id} has no end"
        assert record.how in kind.endings, f"{kind.name}: {record.call_id} ended {record.how}"
        assert path in kind.paths, f"{kind.name}: {record.call_id} took {path}"
        if record.how == "failed":
            assert any(e.kind == "prompt" and e.detail.get("fallback") for e in events), record.call_id
    assert report.escaped == 0
    for database in ("calls.sqlite3", "outbox.sqlite3"):
        await trio.to_thread.run_sync(_intact, rig.store, database)


def _intact(store: SqliteCallRecords, database: str) -> None:
    folder = Path(store.writer._conn.execute("PRAGMA database_list").fetchone()[2]).parent
    with sqlite3.connect(folder / database) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",), database


def environment_ready() -> str | None:
    if os.system("command -v espeak-ng >/dev/null") != 0:
        return "espeak-ng is not installed"
    return None
