"""`CtiServer`: the CTI's state and its background tasks.

Place: the middle of the CTI adapter. It follows the ACD's event stream (`Acd.subscribe`),
keeps the `CallBook` up to date, and fans each change out to the desktop sessions of the
agents it concerns (`offered`, `connected`, `ended`, `call_state`, `agent_state`); queue
statistics go to every session, at most twice a second. It is also the `CallListener` of
the connector's conversations (`ivr.adapters.cti.transfers` keeps the ACD's books in step
with what the parties did) and writes, in order and off the event path, the call-record
lines of transfers and the agents' journal (`ivr.adapters.cti.audit`). Sessions
(`ivr.adapters.cti.session`) attach an outbox here and run commands through
`ivr.adapters.cti.commands`. If the ACD drops this subscriber (its buffer filled), it
subscribes again; nothing about calls depends on this task.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import trio

from ivr.adapters.cti.accounts import AgentDirectory
from ivr.adapters.cti.audit import AgentEvent, AgentJournal, MemoryAgentJournal
from ivr.adapters.cti.calls import CallBook
from ivr.adapters.cti.control import CallControl, Change
from ivr.adapters.cti.flows import DeskFlow
from ivr.adapters.cti.orders import OrderDesk
from ivr.adapters.cti.protocol import (
    agent_state_message,
    call_state_message,
    connected_message,
    dumps,
    ended_message,
    flow_result_message,
    offered_message,
    queue_stats_message,
    safe_screen,
)
from ivr.adapters.cti.settings import DeskSettings
from ivr.adapters.cti.throttle import LocalLoginGate, LoginGate
from ivr.adapters.cti.tokens import TokenBook, Tokens
from ivr.adapters.cti.transfers import follow_change
from ivr.adapters.history import HistoryReader
from ivr.runtime.acd import (
    Acd,
    AcdEvent,
    AgentLeft,
    AgentStateChanged,
    CallConnected,
    CallFinished,
    CallOffered,
    QueueChanged,
)
from ivr.runtime.ports import CallEvent, CallRecords, FlowResult, WallClock

log = logging.getLogger(__name__)
OUTBOX = 512  # messages a desktop may fall behind before it is disconnected
STATS_EVERY = 0.5
MAX_RESULTS = 10  # flow results a call keeps for its desktop


class _SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(slots=True, eq=False)
class Outbox:
    """One desktop session's outgoing messages."""

    extension: str
    send: trio.MemorySendChannel[str]
    receive: trio.MemoryReceiveChannel[str]
    overflowed: bool = False

    def put(self, message: str) -> None:
        try:
            self.send.send_nowait(message)
        except trio.WouldBlock:
            self.overflowed = True
            self.send.close()
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            pass


Note = CallEvent | AgentEvent


@dataclass(slots=True, eq=False)
class CtiServer:
    acd: Acd
    records: CallRecords
    directory: AgentDirectory
    control: CallControl
    tokens: Tokens = field(default_factory=TokenBook)  # center-wide on a shared database
    settings: DeskSettings = field(default_factory=DeskSettings)
    journal: AgentJournal = field(default_factory=MemoryAgentJournal)
    throttle: LoginGate = field(default_factory=LocalLoginGate)  # center-wide on a shared database
    clock: WallClock = field(default_factory=_SystemClock)
    book: CallBook = field(default_factory=CallBook)
    flows: Mapping[str, DeskFlow] = field(default_factory=dict)  # what agents may send callers into
    orders: OrderDesk | None = None  # the order form's back office (None: no order form)
    history: HistoryReader | None = None  # the customer's history (None: the desk shows none)
    history_limiter: trio.CapacityLimiter = field(default_factory=lambda: trio.CapacityLimiter(2))
    outboxes: dict[str, set[Outbox]] = field(default_factory=dict)
    running: bool = False
    _stats_due: trio.Event = field(default_factory=trio.Event)
    _notes: tuple[trio.MemorySendChannel[Note], trio.MemoryReceiveChannel[Note]] = field(
        default_factory=lambda: trio.open_memory_channel[Note](math.inf)
    )

    def __post_init__(self) -> None:
        self.control.listen(self)

    def offer(self, flows: Mapping[str, DeskFlow], orders: OrderDesk | None) -> None:
        """The agent flows and the order form of the flows version new calls get (a published
        version brings its own); desktops that log in from now on see them."""
        self.flows, self.orders = flows, orders

    # -- sessions ----------------------------------------------------------------------
    def attach(self, extension: str) -> Outbox:
        send, receive = trio.open_memory_channel[str](OUTBOX)
        outbox = Outbox(extension, send, receive)
        self.outboxes.setdefault(extension, set()).add(outbox)
        return outbox

    def detach(self, outbox: Outbox) -> bool:
        """Forget a session; True when it was the agent's last one."""
        outbox.send.close()
        boxes = self.outboxes.get(outbox.extension, set())
        boxes.discard(outbox)
        if boxes:
            return False
        self.outboxes.pop(outbox.extension, None)
        return True

    def deliver(self, extension: str, message: Mapping[str, object]) -> None:
        text = dumps(message)
        for outbox in list(self.outboxes.get(extension, ())):
            outbox.put(text)

    def broadcast(self, message: Mapping[str, object]) -> None:
        text = dumps(message)
        for boxes in list(self.outboxes.values()):
            for outbox in list(boxes):
                outbox.put(text)

    def queue_stats(self) -> dict[str, object]:
        return queue_stats_message(self.acd.statistics().queues)

    def show_calls(self, *extensions: str) -> None:
        """Send each agent the state of every call it is on."""
        now = trio.current_time()
        for extension in extensions:
            for call in self.book.involving(extension):
                self.deliver(extension, call_state_message(call, extension, now))

    def snapshot(self, extension: str) -> list[dict[str, object]]:
        """What a (re)connecting desktop needs: its state, the queues, its calls."""
        now = trio.current_time()
        stats = self.acd.statistics().agents.get(extension)
        state: dict[str, object] = (
            agent_state_message(stats, now)
            if stats is not None
            else {"event": "agent_state", "state": "logged_out", "previous": "logged_out"}
        )
        messages = [state, self.queue_stats()]
        for call in self.book.involving(extension):
            role = call.role_of(extension)
            kind = "consult" if role == "consulted" else call.offer
            messages.append(
                {
                    "event": "offered",
                    "call_id": call.call_id,
                    "queue": call.queue,
                    "kind": kind,
                    "screen": safe_screen(call.screen),
                }
            )
            talking = call.connected if role == "agent" else call.other is not None and call.other.talking
            if talking:
                since = now - call.connected_at if call.connected_at is not None else 0.0
                messages.append(connected_message(call.call_id, call.queue, kind, since))
            messages.append(call_state_message(call, extension, now))
        return messages

    # -- notes: call-record lines and the agents' journal, written in order ------------------
    def note(self, call_id: str, line: str, **detail: object) -> None:
        """A line on the caller's record (written soon, in order)."""
        self._notes[0].send_nowait(CallEvent(call_id, line, self.clock.now(), None, detail))

    def audit(self, line: str, extension: str | None, address: str | None = None, **detail: object) -> None:
        """A line in the agents' journal (written soon, in order)."""
        self._notes[0].send_nowait(AgentEvent(self.clock.now(), line, extension, address, detail))

    async def _write_notes(self) -> None:
        async for note in self._notes[1]:
            try:
                if isinstance(note, CallEvent):
                    await self.records.call_event(note)
                else:
                    await self.journal.record(note)
            except Exception:
                log.exception("could not write %s", note.kind)

    # -- the background task -------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Follow the ACD until cancelled (start it once, in the host's nursery)."""
        if self.running:
            task_status.started()
            return
        self.running = True
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._stats_loop)
                nursery.start_soon(self._write_notes)
                events = self.acd.subscribe(buffer=4096)
                task_status.started()
                while True:
                    async for event in events:
                        self._dispatch(event)
                    log.warning("the ACD dropped the CTI's event subscription; subscribing again")
                    events = self.acd.subscribe(buffer=4096)
                    self._stats_due.set()
        finally:
            self.running = False

    def _dispatch(self, event: AcdEvent) -> None:
        if isinstance(event, QueueChanged):
            self._stats_due.set()
            return
        now = trio.current_time()
        agents = self.book.follow(event, now)
        match event:
            case CallOffered():
                self.deliver(event.agent_id, offered_message(event))
            case CallConnected():
                self.deliver(event.agent_id, connected_message(event.call_id, event.queue, event.kind, 0.0))
            case AgentStateChanged():
                self.deliver(event.agent_id, agent_state_message(event, now))
                self.audit("state", event.agent_id, None, state=event.state.value, reason=event.reason)
            case AgentLeft() | CallFinished():
                pass
        for ended in self.book.take_ended():
            self.deliver(ended.agent_id, ended_message(ended))
        self.show_calls(*agents)

    async def _stats_loop(self) -> None:
        while True:
            await self._stats_due.wait()
            self._stats_due = trio.Event()
            if self.outboxes:
                self.broadcast(self.queue_stats())
            await trio.sleep(STATS_EVERY)

    # -- CallListener: what the parties of a conversation did ------------------------------
    def call_changed(self, call_id: str, change: Change) -> None:
        follow_change(self, call_id, change)

    def flow_ended(self, call_id: str, result: FlowResult) -> None:
        """The caller is back from a flow: the agent sees the result, the call knows more."""
        call = self.book.held.get(call_id)
        if call is None:
            return
        call.in_flow = None
        call.results.append(result)
        del call.results[:-MAX_RESULTS]
        if call.agent_id is not None:
            self.deliver(call.agent_id, flow_result_message(call_id, result))
            self.show_calls(call.agent_id)
