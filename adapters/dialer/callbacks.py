"""Queue callbacks in `ivr serve`: the tenant's ACD is opened before its trunks are, so it
calls back through `DialerSlot`, a `Dialer` the outbound side plugs the trunk dialer into
once it is up (`ivr.adapters.dialer.hosting.open_tenant_outbound`).

Place: between the hosting's tenants (`ivr.adapters.hosting.tenants`, which builds the
ACD's `CallbackSettings` with `callback_settings`) and the dialer. Until a dialer is
plugged in (or after it is gone) the slot has no free channel, so a kept place that reaches
an agent is put back to wait (`no_channel`) rather than dialled: callbacks obey the same
idle-capacity rule as campaigns, inbound keeps priority.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from ivr.adapters.storage.callbacks import SqliteCallbackJournal
from ivr.flowlang.ir import Project
from ivr.runtime.acd.callbacks import CallbackSettings
from ivr.runtime.ports import (
    Answered,
    CallbackJournal,
    CallbackStep,
    CallEvent,
    CallRecords,
    Dialer,
    DialRequest,
    DialResult,
    KeptPlace,
)

log = logging.getLogger(__name__)


class DialerSlot:
    """A `Dialer` that is the plugged-in dialer, or none (no free channel, calls fail)."""

    def __init__(self) -> None:
        self.dialer: Dialer | None = None

    def plug(self, dialer: Dialer | None) -> None:
        self.dialer = dialer

    def free_channels(self, trunk: str) -> int:
        return 0 if self.dialer is None else self.dialer.free_channels(trunk)

    async def call(self, request: DialRequest, answered: Answered) -> DialResult:
        if self.dialer is None:
            return DialResult("failed", 0, "outbound calling is not running")
        return await self.dialer.call(request, answered)


class RecordedCallbackJournal:
    """The callback journal, each step also a `callback` event on the caller's call record
    (`{"step": ..., "detail": ...}`), so a call's trace and the reports over call records
    see what became of its callback. A record that cannot be written is logged, not fatal:
    the journal is what the ACD needs."""

    def __init__(self, journal: CallbackJournal, records: CallRecords) -> None:
        self.journal, self.records = journal, records

    async def keep(self, place: KeptPlace) -> None:
        await self.journal.keep(place)

    async def step(self, call_id: str, step: CallbackStep, at: datetime, detail: str = "") -> None:
        await self.journal.step(call_id, step, at, detail)
        event = CallEvent(call_id, "callback", at, None, {"step": step, "detail": detail})
        try:
            await self.records.call_event(event)
        except Exception:
            log.exception("call %s: the callback step %s was not recorded on the call", call_id, step)

    async def pending(self) -> list[KeptPlace]:
        return await self.journal.pending()


async def callback_settings(
    project: Project, slot: DialerSlot, journal_file: Path | CallbackJournal, records: CallRecords
) -> CallbackSettings | None:
    """Callbacks through the service's first trunk (None when it declares none: then the
    queue plays no callback offer); the kept places in `journal_file`, or in a journal
    already open (on the shared database: `ivr.adapters.hosting.stores.open_callback_journal`)."""
    service = project.service
    if service is None or not service.trunks:
        return None
    trunk = next(iter(service.trunks))
    kept = await SqliteCallbackJournal.open(journal_file) if isinstance(journal_file, Path) else journal_file
    journal = RecordedCallbackJournal(kept, records)
    return CallbackSettings(slot, journal, trunk)


def _implements_the_ports(
    slot: DialerSlot, journal: RecordedCallbackJournal
) -> tuple[Dialer, CallbackJournal]:
    return slot, journal  # mypy checks here that both satisfy the runtime's ports
