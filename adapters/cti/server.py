"""`CtiServer`: the CTI's state and its one background task.

Place: the middle of the CTI adapter. It follows the ACD's event stream
(`Acd.subscribe`), keeps the `CallBook` up to date, and fans each event out to the desktop
sessions of the agent it concerns; queue statistics go to every session, at most twice a
second. Sessions (`ivr.adapters.cti.session`) attach an outbox here and run commands
through `ivr.adapters.cti.commands`. If the ACD drops this subscriber (its buffer filled),
it subscribes again; nothing about calls depends on this task.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import trio

from ivr.adapters.cti.accounts import AgentDirectory
from ivr.adapters.cti.calls import CallBook, CallControl
from ivr.adapters.cti.protocol import dumps, event_message, queue_stats_message
from ivr.adapters.cti.tokens import TokenBook
from ivr.runtime.acd import Acd, AcdEvent, AgentState, AgentStateChanged, QueueChanged
from ivr.runtime.ports import CallRecords, WallClock

log = logging.getLogger(__name__)
OUTBOX = 512  # messages a desktop may fall behind before it is disconnected
STATS_EVERY = 0.5


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


@dataclass(slots=True, eq=False)
class CtiServer:
    acd: Acd
    records: CallRecords
    directory: AgentDirectory
    control: CallControl
    tokens: TokenBook = field(default_factory=TokenBook)
    clock: WallClock = field(default_factory=_SystemClock)
    book: CallBook = field(default_factory=CallBook)
    outboxes: dict[str, set[Outbox]] = field(default_factory=dict)
    transfers: int = 0
    running: bool = False
    _stats_due: trio.Event = field(default_factory=trio.Event)

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
        lost = _ring_ended(self.book, event)
        agents = self.book.follow(event)
        if lost is not None:
            self.deliver(
                lost[0], {"event": "ended", "call_id": lost[1], "queue": lost[2], "outcome": "no_answer"}
            )
        message = event_message(event)
        if message is not None:
            for agent_id in agents:
                self.deliver(agent_id, message)

    async def _stats_loop(self) -> None:
        while True:
            await self._stats_due.wait()
            self._stats_due = trio.Event()
            if self.outboxes:
                self.broadcast(self.queue_stats())
            await trio.sleep(STATS_EVERY)

    def next_transfer_id(self, call_id: str) -> str:
        self.transfers += 1
        return f"{call_id}~t{self.transfers}"


def _ring_ended(book: CallBook, event: AcdEvent) -> tuple[str, str, str] | None:
    """(agent, call, queue) when an offer rang out or was refused: the desktop drops it."""
    if not isinstance(event, AgentStateChanged) or event.previous is not AgentState.RESERVED:
        return None
    call = book.holding(event.agent_id)
    if event.state is AgentState.ON_CALL or call is None or call.connected:
        return None
    return event.agent_id, call.call_id, call.queue
