"""The live call table and per-call traces, fed by a tap on the `CallRecords` port.

Place: between the engine and the durable store. `TappedRecords` forwards every write to
SQLite (`ivr.adapters.storage`) unchanged and keeps, in memory, what the HTTP API shows:
the calls in progress (current node), their traces, the last N ended calls (with the agent
who took each and the disposition, which often arrives after the hang-up: it still joins
the call's trace), and the metrics that come from call events (node steps, operation
latency). The engine has
already masked every secret value in what it writes; the tap adds nothing of its own but
timestamps, so a trace never holds a secret either.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from ivr.adapters.hosting.metrics import Metrics
from ivr.runtime.ports import CallChannel, CallEnding, CallEvent, CallRecords, Recording

MAX_TRACE = 2000  # events kept in memory per call; the store keeps them all


@dataclass
class LiveCall:
    """One call as the HTTP API shows it."""

    call_id: str
    caller: str
    dialed: str
    flow: str
    started: datetime
    sip_call_id: str = ""
    node: str | None = None
    ended: datetime | None = None
    how: str | None = None
    agent: str | None = None  # the last agent who talked with the caller
    disposition: str | None = None  # the last disposition saved for the call
    trace: list[CallEvent] = field(default_factory=list)
    tenant: str = ""
    version: str = ""
    channel: CallChannel = "phone"

    def summary(self) -> dict[str, object]:
        out: dict[str, object] = {
            "id": self.call_id,
            "tenant": self.tenant,
            "version": self.version,
            "caller": self.caller,
            "dialed": self.dialed,
            "flow": self.flow,
            "channel": self.channel,
            "node": self.node,
            "started": self.started.isoformat(),
        }
        if self.ended is not None:
            out |= {"ended": self.ended.isoformat(), "how": self.how}
        return out | {"agent": self.agent, "disposition": self.disposition}


class LiveCalls:
    """Calls in progress by id, and the last `keep` ended ones (newest last)."""

    def __init__(self, keep: int = 200) -> None:
        self.active: dict[str, LiveCall] = {}
        self.recent: OrderedDict[str, LiveCall] = OrderedDict()
        self._keep = keep
        self._sip_ids: dict[str, str] = {}

    def expect(self, call_id: str, sip_call_id: str) -> None:
        """Note the SIP Call-ID of a call about to start (shown in its summary)."""
        self._sip_ids[call_id] = sip_call_id

    def find(self, call_id: str) -> LiveCall | None:
        return self.active.get(call_id) or self.recent.get(call_id)

    def started(self, call: LiveCall) -> None:
        call.sip_call_id = self._sip_ids.pop(call.call_id, "")
        self.active[call.call_id] = call

    def finished(self, call_id: str, how: str, at: datetime) -> None:
        call = self.active.pop(call_id, None)
        if call is None:
            return
        call.ended, call.how, call.node = at, how, None
        self.recent[call_id] = call
        while len(self.recent) > self._keep:
            self.recent.popitem(last=False)

    def ended_outside_engine(self, call: LiveCall) -> None:
        """A call that never reached the engine (cancelled while ringing): recent list only."""
        self._sip_ids.pop(call.call_id, None)
        self.active[call.call_id] = call
        self.finished(call.call_id, call.how or "cancelled", call.ended or call.started)


class StampedRecords(CallRecords, Protocol):
    """A `CallRecords` that also keeps each call's tenant and flows version
    (`SqliteCallRecords`, and `MemoryCallRecords` in tests)."""

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
    ) -> None: ...


class TappedRecords:
    """`CallRecords` that writes through to `store` and keeps the live view up to date.

    `call_started` twice for one call writes it once: the supervisor starts the record
    before the 200 OK goes out (a 200 without a durable record would be a call that a
    crash makes vanish), and the engine's own `call_started` then finds it done."""

    def __init__(self, store: StampedRecords, live: LiveCalls, metrics: Metrics) -> None:
        self.store = store
        self.live = live
        self.metrics = metrics
        self._started: set[str] = set()  # calls with a record and no end yet

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
        if call_id in self._started:
            return
        self._started.add(call_id)
        live = LiveCall(call_id, caller, dialed, flow, at, tenant=tenant, version=version, channel=channel)
        self.live.started(live)
        store = self.store
        if channel == "phone":  # as before channels: a store that keeps none still fits
            await store.call_started(
                call_id, flow=flow, caller=caller, dialed=dialed, at=at, tenant=tenant, version=version
            )
        else:
            await store.call_started(
                call_id,
                flow=flow,
                caller=caller,
                dialed=dialed,
                at=at,
                tenant=tenant,
                version=version,
                channel=channel,
            )

    async def call_event(self, event: CallEvent) -> None:
        self._observe(event)
        await self.store.call_event(event)

    async def call_ended(self, call_id: str, *, how: CallEnding, at: datetime) -> None:
        self._started.discard(call_id)
        call = self.live.active.get(call_id)
        try:
            await self.store.call_ended(call_id, how=how, at=at)
        finally:
            self.live.finished(call_id, how, at)
            self.metrics.call_ended(how, call.tenant if call is not None else "")

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        await self.store.store_recording(call_id, recording, metadata)

    def _observe(self, event: CallEvent) -> None:
        call = self.live.find(event.call_id)  # a disposition may come after the hang-up
        tenant = call.tenant if call is not None else ""
        if event.kind == "node_entered":
            self.metrics.node_step(tenant)
            if call is not None and call.ended is None:
                call.node = event.node
        elif event.kind in ("agent_connected", "agent_wrapup") and call is not None:
            if event.kind == "agent_connected" and event.detail.get("kind", "queue") != "consult":
                call.agent = str(event.detail.get("agent"))
            elif event.kind == "agent_wrapup":
                call.disposition = str(event.detail.get("disposition"))
        elif event.kind == "operation":
            latency = event.detail.get("latency_ms")
            if isinstance(latency, int | float):
                name, outcome = str(event.detail.get("name")), str(event.detail.get("outcome"))
                self.metrics.operation(name, outcome, latency / 1000, tenant)
        if call is not None and len(call.trace) < MAX_TRACE:
            call.trace.append(event)


def trace_json(call: Mapping[str, object], events: list[CallEvent]) -> dict[str, object]:
    """A call's trace for the API: its summary and every event with its timestamp."""
    return {
        "call": dict(call),
        "events": [
            {"at": e.at.isoformat(), "kind": e.kind, "node": e.node, "detail": dict(e.detail)} for e in events
        ],
    }
