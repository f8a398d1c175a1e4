"""`MemoryCallRecords`: the `CallRecords` port in memory, for tests and the simulator."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ivr.runtime.ports import CallChannel, CallEvent, Recording


@dataclass(frozen=True, slots=True)
class StoredRecording:
    call_id: str
    recording: Recording
    metadata: Mapping[str, object]


@dataclass(slots=True, eq=False)
class MemoryCallRecords:
    """Keeps every record line; `on_event` (optional) sees each event as it is written."""

    started: dict[str, dict[str, object]] = field(default_factory=dict)
    events: list[CallEvent] = field(default_factory=list)
    ended: dict[str, str] = field(default_factory=dict)
    recordings: list[StoredRecording] = field(default_factory=list)
    on_event: Callable[[CallEvent], None] | None = None
    keep_events: bool = True

    async def call_started(
        self,
        call_id: str,
        *,
        flow: str,
        caller: str,
        dialed: str,
        at: datetime,
        tenant: str = "",
        version: str = "",
        channel: CallChannel = "phone",
    ) -> None:
        """As the port; `tenant` and `version` as the SQLite store keeps them for hosted calls."""
        self.started[call_id] = {
            "flow": flow,
            "caller": caller,
            "dialed": dialed,
            "at": at,
            "tenant": tenant,
            "version": version,
            "channel": channel,
        }

    async def call_event(self, event: CallEvent) -> None:
        if self.keep_events:
            self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    async def call_ended(self, call_id: str, *, how: str, at: datetime) -> None:
        self.ended[call_id] = how

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        self.recordings.append(StoredRecording(call_id, recording, dict(metadata)))

    def of(self, call_id: str, kind: str | None = None) -> list[CallEvent]:
        """The events of one call (of one kind), in order."""
        return [e for e in self.events if e.call_id == call_id and (kind is None or e.kind == kind)]
