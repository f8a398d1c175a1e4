"""The shared routing state from trio: the `SharedRouting` port on PostgreSQL, the
instance's router and its wake-ups (`LISTEN ivr_acd`).

Place: adapters; `open_shared_acd` gives an instance its `SharedAcd` (the `AgentRouting`
port) for the life of a block. Three parts run meanwhile:

- the listener, in a worker thread on its own connection: every change that makes a call
  or an agent available notifies `available` (sent when its transaction commits), every
  routing step `offer`;
- the router: woken by `available` (or, as a safety net, every `poll` seconds), it takes
  routing steps until none is left. Every instance runs one; the center's routing token
  lets one step run at a time, whichever instance takes it;
- the heartbeat: the router marks this instance alive on each round, and clears what
  instances not heard of for `stale_after` seconds held (docs/cluster.md);
- the dispatcher: an `offer` that concerns this instance (its call, or an agent whose
  desktop is here) is read back and handed to `SharedAcd.offered`; the same poll re-reads
  this instance's standing offers, so a missed notification delays a call, never loses it.
  What became of a call of another instance offered to an agent whose desktop is here
  (`agent`: connected, not answered, abandoned, finished) goes to `SharedAcd.followed`;
- the call commands (`ivr.adapters.sharedacd.commands`): `command` (one addressed to this
  instance, carried out by `RemoteCommands.run`) and `command_done` (the outcome of one
  this instance's desktop sent) go to `RemoteCommands.noted`; `open_shared_center` gives
  them with the ACD.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import psycopg
import trio

from ivr.adapters.sharedacd import commands
from ivr.adapters.sharedacd.commands import RemoteCommands
from ivr.adapters.sharedacd.state import CHANNEL, RoutingState, connect
from ivr.runtime.acd.config import AcdSettings
from ivr.runtime.acd.events import EventHub
from ivr.runtime.acd.shared import (
    CenterFigures,
    Match,
    Place,
    SharedAgent,
    SharedAgentState,
    SharedCall,
    Step,
)
from ivr.runtime.acd.shared_acd import SharedAcd
from ivr.runtime.ports import AgentConnector

T = TypeVar("T")
log = logging.getLogger(__name__)


class PostgresSharedRouting:
    """`SharedRouting` on one connection, used from worker threads one call at a time."""

    def __init__(self, state: RoutingState) -> None:
        self.sync = state
        self._lock = trio.Lock()

    async def run(self, work: Callable[[], T]) -> T:
        async with self._lock:
            return await trio.to_thread.run_sync(work)

    async def add_call(self, call: SharedCall) -> Step:
        return await self.run(partial(self.sync.add_call, call))

    async def withdraw_call(self, call_id: str) -> Step:
        return await self.run(partial(self.sync.withdraw_call, call_id))

    async def login(self, agent: SharedAgent, *, ready: bool = False) -> Step:
        return await self.run(partial(self.sync.login, agent, ready=ready))

    async def logout(self, agent_id: str) -> Step:
        return await self.run(partial(self.sync.logout, agent_id))

    async def set_ready(self, agent_id: str) -> Step:
        return await self.run(partial(self.sync.set_ready, agent_id))

    async def set_not_ready(self, agent_id: str) -> Step:
        return await self.run(partial(self.sync.set_not_ready, agent_id))

    async def route_once(self) -> Match | None:
        return await self.run(self.sync.route_once)

    async def answered(self, call_id: str) -> Step:
        return await self.run(partial(self.sync.answered, call_id))

    async def not_answered(self, call_id: str) -> Step:
        return await self.run(partial(self.sync.not_answered, call_id))

    async def abandon(self, call_id: str) -> Step:
        return await self.run(partial(self.sync.abandon, call_id))

    async def finished(self, call_id: str, *, wrap_up: bool) -> Step:
        return await self.run(partial(self.sync.finished, call_id, wrap_up=wrap_up))

    async def agents_with(self, skills: frozenset[str]) -> int:
        return await self.run(partial(self.sync.agents_with, skills))

    async def agents_of(self, instance: str) -> list[tuple[str, SharedAgentState, str | None]]:
        return await self.run(partial(self.sync.agents_of, instance))

    async def offers_for(self, instance: str) -> list[Match]:
        return await self.run(partial(self.sync.offers_for, instance))

    async def figures(self) -> CenterFigures | None:
        try:
            return await self.run(self.sync.figures)
        except psycopg.Error as exc:  # a figure for a page: unknown for now, never a failure
            log.warning("the center's queue figures could not be read: %s", exc)
            return None

    async def place(self, call_id: str) -> Place | None:
        try:
            return await self.run(partial(self.sync.place, call_id))
        except psycopg.Error as exc:  # the caller hears music instead of a position
            log.warning("call %s: its place in the center's queue could not be read: %s", call_id, exc)
            return None

    async def heartbeat(self, instance: str) -> None:
        await self.run(partial(self.sync.heartbeat, instance))

    async def sweep(self, stale_after: float) -> list[str]:
        return await self.run(partial(self.sync.sweep, stale_after))

    async def offer(self, call_id: str) -> Match | None:
        return await self.run(partial(self.sync.offer, call_id))

    def close(self) -> None:
        self.sync.conn.close()


@dataclass(frozen=True)
class SharedCenter:
    """What an instance has of its center: its ACD, and the call commands carried between
    the instance of an agent's desktop and the instance holding the call (`commands`)."""

    acd: SharedAcd
    commands: RemoteCommands


@asynccontextmanager
async def open_shared_acd(
    url: str,
    *,
    instance: str,
    connector: AgentConnector,
    settings: AcdSettings | None = None,
    center: str = "default",
    events: EventHub | None = None,
    poll: float = 5.0,
    stale_after: float = 15.0,
) -> AsyncIterator[SharedAcd]:
    """This instance's ACD in a center whose routing state is in the database at `url`
    (`open_shared_center` without the call commands)."""
    async with open_shared_center(
        url,
        instance=instance,
        connector=connector,
        settings=settings,
        center=center,
        events=events,
        poll=poll,
        stale_after=stale_after,
    ) as shared:
        yield shared.acd


@asynccontextmanager
async def open_shared_center(
    url: str,
    *,
    instance: str,
    connector: AgentConnector,
    settings: AcdSettings | None = None,
    center: str = "default",
    events: EventHub | None = None,
    poll: float = 5.0,
    stale_after: float = 15.0,
) -> AsyncIterator[SharedCenter]:
    """This instance's ACD in a center whose routing state is in the database at `url`.
    It tells the others it is alive every `stale_after / 3` seconds, and clears what an
    instance not heard of for `stale_after` seconds held (`RoutingState.sweep`). The call
    commands addressed to this instance are carried out by `commands.handler` once set."""
    changes, router = await trio.to_thread.run_sync(_open_pair, url, center)
    await trio.to_thread.run_sync(changes.sync.restart, instance)
    acd = SharedAcd(changes, connector, settings or AcdSettings(), instance, events)
    remote = RemoteCommands(changes.sync, changes.run, instance, stale_after)
    wake = _Wake()
    send, receive = trio.open_memory_channel[dict[str, object]](1024)
    stop = threading.Event()
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(_listen_in_thread, url, center, send, stop)  # listening from here
            nursery.start_soon(_dispatch, receive, wake, changes, acd, remote)
            nursery.start_soon(_route, router, wake, changes, acd, remote, (poll, stale_after))
            nursery.start_soon(remote.run)
            yield SharedCenter(acd, remote)
            nursery.cancel_scope.cancel()
    finally:
        stop.set()
        changes.close()
        router.close()


class _Wake:
    """Set when something became available; the router clears it before each round."""

    def __init__(self) -> None:
        self.event = trio.Event()

    def set(self) -> None:
        self.event.set()

    async def wait(self, timeout: float) -> None:
        with trio.move_on_after(timeout):
            await self.event.wait()
        self.event = trio.Event()


def _open_pair(url: str, center: str) -> tuple[PostgresSharedRouting, PostgresSharedRouting]:
    """Two connections: changes of this instance's calls and agents, and its router (so a
    routing step never queues behind them)."""
    first = RoutingState(connect(url), center)
    first.prepare()
    commands.prepare(first)
    return PostgresSharedRouting(first), PostgresSharedRouting(RoutingState(connect(url), center))


async def _route(
    router: PostgresSharedRouting,
    wake: _Wake,
    changes: PostgresSharedRouting,
    acd: SharedAcd,
    remote: RemoteCommands,
    periods: tuple[float, float],
) -> None:
    poll, stale_after = periods
    while True:
        remote.poll()  # the safety net of the call commands addressed here
        await remote.prune_now_and_then()
        await router.heartbeat(acd.instance)
        await router.sweep(stale_after)
        while (match := await router.route_once()) is not None:
            acd.offered(match)
        for match in await changes.offers_for(acd.instance):  # the safety net
            acd.offered(match)
        await acd.catch_up()
        await wake.wait(min(poll, stale_after / 3))


async def _dispatch(
    receive: trio.MemoryReceiveChannel[dict[str, object]],
    wake: _Wake,
    changes: PostgresSharedRouting,
    acd: SharedAcd,
    remote: RemoteCommands,
) -> None:
    async for note in receive:
        if note.get("kind") == "available":
            wake.set()
        elif note.get("kind") in ("command", "command_done"):
            remote.noted(note)
        elif note.get("kind") == "agent":
            if note.get("agent_instance") == acd.instance != note.get("call_instance"):
                await acd.followed(
                    str(note["what"]), str(note["call"]), str(note["agent"]), str(note["queue"])
                )
        elif acd.instance in (note.get("call_instance"), note.get("agent_instance")):
            match = await changes.offer(str(note["call"]))
            if match is not None and match.seq == note.get("seq"):
                acd.offered(match)


async def _listen_in_thread(
    url: str,
    center: str,
    send: trio.MemorySendChannel[dict[str, object]],
    stop: threading.Event,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run `_listen` in a worker thread; started once its `LISTEN` is in effect, so no
    change made after `open_shared_acd` yields goes unheard."""
    token = trio.lowlevel.current_trio_token()

    def forward(note: dict[str, object]) -> None:
        trio.from_thread.run_sync(send.send_nowait, note, trio_token=token)

    def listening() -> None:
        trio.from_thread.run_sync(task_status.started, trio_token=token)

    try:
        await trio.to_thread.run_sync(_listen, url, center, forward, listening, stop, abandon_on_cancel=True)
    finally:
        stop.set()


def _listen(
    url: str,
    center: str,
    forward: Callable[[dict[str, object]], None],
    listening: Callable[[], None],
    stop: threading.Event,
) -> None:
    """The listener thread: forward this center's notifications until `stop`."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        listening()
        while not stop.is_set():
            for notify in conn.notifies(timeout=0.5):
                note = json.loads(notify.payload)
                if isinstance(note, dict) and note.get("center") == center and not stop.is_set():
                    try:
                        forward(note)
                    except trio.WouldBlock:
                        continue  # a backlog: the router's poll catches up
                    except trio.RunFinishedError:
                        return
