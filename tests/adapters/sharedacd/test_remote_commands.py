"""The desktop's call controls for a call held at another instance (docs/cluster.md, "Call
controls across instances"): two instances of one center on one PostgreSQL, the agent's
desktop at B (its local `Acd`, mirrored into the shared state), the caller's conversation
at A over the in-memory `DeskConnector` (the same `Conversation` as over SIP). B's
`RoutedControl` carries hold, keypad and hang-up to A through `acd_commands`; A's reason
for a refusal, an owner that does not answer, and an owner gone reach B's desktop as
`NotConnected` with the reason."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial

import psycopg
import pytest
import trio

from ivr.adapters.cti.calls import NotConnected
from ivr.adapters.cti.control import Change, Dial
from ivr.adapters.cti.remote import OwnerListener, RoutedControl, carry_out
from ivr.adapters.cti.testing import DeskConnector
from ivr.adapters.sharedacd import commands
from ivr.adapters.sharedacd.commands import RemoteCommand
from ivr.adapters.sharedacd.routing import SharedCenter, open_shared_center
from ivr.adapters.sharedacd.state import RoutingState, connect
from ivr.runtime.acd import Acd, AcdSettings, QueueConfig, open_acd
from ivr.runtime.acd.shared_acd import SharedAcd, mirror_agents
from ivr.runtime.ports import FlowResult, QueueOutcome, QueueRequest
from ivr.runtime.testing import MemoryCallLeg

SETTINGS = AcdSettings(
    {
        "stocks": QueueConfig("stocks", skills=("stocks",), ring_timeout=5, wrap_up=0.2),
        "funds": QueueConfig("funds", skills=("funds",), ring_timeout=5),
    }
)
PHONE, FUNDS_PHONE = "sip:8001@127.0.0.1:5071", "sip:8002@127.0.0.1:5072"
NUMBER, NOBODY = "sip:555@127.0.0.1:5999", "sip:556@127.0.0.1:5999"  # numbers a caller is sent to
POLL = 60.0  # longer than any test: only notifications wake the instances


@dataclass
class Center:
    a: SharedCenter
    phones_a: DeskConnector  # A's conversations with the agent's phone
    desk: Acd  # B's local ACD (the desktop's)
    control: RoutedControl  # B's desktop's call control
    outcomes: dict[str, QueueOutcome]

    async def call(self, nursery: trio.Nursery, call_id: str) -> None:
        """A caller at A, talking with the agent once this returns."""

        async def wait() -> None:
            leg = MemoryCallLeg(call_id=call_id)
            self.outcomes[call_id] = await self.a.acd.enqueue(leg, QueueRequest("stocks", (), 0, {}, None))

        nursery.start_soon(wait)
        with trio.fail_after(20):
            await _until(
                lambda: self.desk.held_elsewhere(call_id) and call_id in self.phones_a.conversations.talking
            )


class _NoDesk:
    """Instance A's CTI: it has no desktop here."""

    def call_changed(self, call_id: str, change: Change) -> None:
        pass

    def flow_ended(self, call_id: str, result: FlowResult) -> None:
        pass


async def _until(condition: Callable[[], bool]) -> None:
    while True:
        if condition():
            return
        await trio.sleep(0.01)


async def _carry_out(connector: DeskConnector, shared: SharedAcd, command: RemoteCommand) -> None:
    await carry_out(connector, command.call_id, command.command, command.args, shared)


@asynccontextmanager
async def _center(url: str) -> AsyncIterator[Center]:
    phones_a = DeskConnector(answer_after=0.01, answers={NOBODY: "no_answer"}, dial_timeout=0.5)
    async with (
        open_acd(DeskConnector(), SETTINGS) as desk,
        open_shared_center(url, instance="A", connector=phones_a, settings=SETTINGS, poll=POLL) as a,
        open_shared_center(
            url, instance="B", connector=DeskConnector(), settings=SETTINGS, events=desk.events, poll=POLL
        ) as b,
        trio.open_nursery() as nursery,
    ):
        a.commands.handler = partial(_carry_out, phones_a, a.acd)
        phones_a.listen(OwnerListener(_NoDesk(), a.acd))
        await nursery.start(mirror_agents, desk, b.acd)
        desk.login("8001", PHONE, {"stocks": 3}, ready=True)
        with trio.fail_after(20):
            await _until(lambda: desk.statistics().agents["8001"].state.value == "ready")
            while True:  # the mirror copies the log-in in its own task
                if await a.acd.state.agents_with(frozenset({"stocks"})):
                    break
                await trio.sleep(0.01)
        yield Center(a, phones_a, desk, RoutedControl(DeskConnector(), desk, b.commands), {})
        nursery.cancel_scope.cancel()


def _commands(url: str) -> list[tuple[str, str, str, str, str | None]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT command, owner, sender, state, error FROM acd_commands ORDER BY id")
        return [(str(r[0]), str(r[1]), str(r[2]), str(r[3]), r[4]) for r in rows.fetchall()]


async def test_the_agent_at_b_holds_resumes_and_hangs_up_a_call_held_at_a(postgres_url: str) -> None:
    async with _center(postgres_url) as center, trio.open_nursery() as nursery:
        await center.call(nursery, "CALL-1")
        media = center.phones_a.media["CALL-1"]
        with trio.fail_after(20):
            await center.control.hold("CALL-1", True)
            assert (media.music, bool(media.links)) == (
                True,
                False,
            )  # at A: the caller hears music, nobody the caller
            with pytest.raises(NotConnected, match="on hold"):  # A's own refusal, word for word
                await center.control.send_dtmf("CALL-1", "1")
            await center.control.hold("CALL-1", False)
            assert (media.music, bool(media.links)) == (False, True)
            await center.control.send_dtmf("CALL-1", "42")
            assert center.phones_a.callers["CALL-1"].tones == ["42"]
            await center.control.hangup("CALL-1")
            await _until(lambda: "CALL-1" in center.outcomes)
    assert center.outcomes == {"CALL-1": "completed"}  # the caller's flow goes on at A
    assert center.phones_a.phones[PHONE][-1].ended.is_set()  # A hung up the agent's phone
    assert [(c, o, s, st) for c, o, s, st, _ in _commands(postgres_url)] == [
        ("hold", "A", "B", "done"),
        ("send_dtmf", "A", "B", "failed"),
        ("hold", "A", "B", "done"),
        ("send_dtmf", "A", "B", "done"),
        ("hangup", "A", "B", "done"),
    ]


async def test_a_command_the_holding_instance_does_not_take_up_is_withdrawn_and_never_runs(
    postgres_url: str,
) -> None:
    async with _center(postgres_url) as center, trio.open_nursery() as nursery:
        await center.call(nursery, "CALL-2")
        center.a.commands.handler = None  # A stops carrying out commands
        center.control._remote.answer_within = 0.5  # type: ignore[attr-defined]
        with (
            trio.fail_after(20),
            pytest.raises(NotConnected, match=r"did not answer within 0\.5 s; nothing was done"),
        ):
            await center.control.hold("CALL-2", True)
        center.a.commands.handler = partial(_carry_out, center.phones_a, center.a.acd)
        center.a.commands.poll()  # A looks again: the withdrawn command is not there to run
        with trio.fail_after(20):
            await center.control.hangup("CALL-2")
        assert not center.phones_a.media["CALL-2"].music
    assert [(c, st) for c, _, _, st, _ in _commands(postgres_url)] == [("hold", "failed"), ("hangup", "done")]


async def test_a_command_for_a_call_whose_instance_is_gone_is_refused_at_once(postgres_url: str) -> None:
    async with _center(postgres_url) as center, trio.open_nursery() as nursery:
        await center.call(nursery, "CALL-3")
        with psycopg.connect(postgres_url, autocommit=True) as conn:  # A silent for a minute
            conn.execute(
                "UPDATE acd_instances SET seen_at = seen_at - interval '1 minute' WHERE instance = 'A'"
            )
        with trio.fail_after(5), pytest.raises(NotConnected, match="CALL-3") as refused:
            await center.control.hold("CALL-3", True)
        assert "A holding call CALL-3 has not been heard of" in str(refused.value) or "no longer held" in str(
            refused.value
        )
        nursery.cancel_scope.cancel()
    assert _commands(postgres_url) == []  # nothing was addressed to the dead instance


async def test_a_call_held_here_is_controlled_here(postgres_url: str) -> None:
    """B's control does not send a call of its own anywhere (none is followed for another)."""
    async with _center(postgres_url) as center:
        with pytest.raises(NotConnected, match="not talking to an agent"):
            await center.control.hold("LOCAL-1", True)
    assert _commands(postgres_url) == []


async def test_the_agent_at_b_sends_a_caller_held_at_a_to_another_queue(postgres_url: str) -> None:
    """A blind transfer to a queue: A ends the conversation with B's agent, who goes to
    wrap-up, and its caller waits in the new queue, where an agent of that queue takes it."""
    async with _center(postgres_url) as center, trio.open_nursery() as nursery:
        await center.a.acd.login("8002", FUNDS_PHONE, {"funds": 2}, ready=True)  # at A, no desktop
        await center.call(nursery, "CALL-4")
        with trio.fail_after(20):
            with pytest.raises(NotConnected, match="there is no queue 'nowhere'"):
                await center.control.transfer_to_queue("CALL-4", "nowhere")
            await center.control.transfer_to_queue("CALL-4", "funds")
            await _until(lambda: ("CALL-4", "8002") in center.phones_a.bridged)
            await _until(lambda: not center.desk.held_elsewhere("CALL-4"))  # B's agent left it
            center.phones_a.hang_up_phone(FUNDS_PHONE)
            await _until(lambda: "CALL-4" in center.outcomes)
    assert center.outcomes == {"CALL-4": "completed"}
    assert center.phones_a.bridged == [("CALL-4", "8001"), ("CALL-4", "8002")]
    assert center.phones_a.phones[PHONE][-1].ended.is_set()
    assert [(c, st) for c, _, _, st, _ in _commands(postgres_url)] == [
        ("transfer_queue", "failed"),
        ("transfer_queue", "done"),
    ]


async def test_the_agent_at_b_sends_a_caller_held_at_a_to_a_number_and_is_free_at_once(
    postgres_url: str,
) -> None:
    """A blind transfer to a number: A rings the number for its caller and drops the
    agent's phone; B's agent is free (wrap-up) while the caller talks with the number."""
    async with _center(postgres_url) as center, trio.open_nursery() as nursery:
        await center.call(nursery, "CALL-5")
        with trio.fail_after(20):
            await center.control.dial_for_caller(
                "CALL-5", Dial(NUMBER, {"queue": "stocks"}, None, "CALL-5", "139")
            )
            await _until(lambda: not center.desk.held_elsewhere("CALL-5"))  # B's agent left it
            talking = center.phones_a.conversations.talking["CALL-5"]
            await _until(lambda: "other" in talking.mix.present)  # the number answered
            assert center.phones_a.phones[PHONE][-1].ended.is_set()  # the agent's phone, hung up
            assert "CALL-5" not in center.outcomes
            center.phones_a.hang_up_phone(NUMBER)
            await _until(lambda: "CALL-5" in center.outcomes)
    assert center.outcomes == {"CALL-5": "completed"}
    assert [d.address for d in center.phones_a.dialled] == [NUMBER]
    assert [(c, st) for c, _, _, st, _ in _commands(postgres_url)] == [("dial_for_caller", "done")]


async def test_a_number_that_does_not_answer_sends_the_caller_held_at_a_back_to_its_queue(
    postgres_url: str,
) -> None:
    async with _center(postgres_url) as center, trio.open_nursery() as nursery:
        await center.call(nursery, "CALL-6")
        with trio.fail_after(20):
            await center.control.dial_for_caller("CALL-6", Dial(NOBODY, {}, None, "CALL-6", "139"))
            # rang out: the caller waits in its queue again, and the agent, ready after its
            # wrap-up, takes it again
            await _until(lambda: center.phones_a.bridged.count(("CALL-6", "8001")) == 2)
            await _until(lambda: len(center.phones_a.phones[PHONE]) == 2)
            center.phones_a.hang_up_phone(PHONE)
            await _until(lambda: "CALL-6" in center.outcomes)
    assert center.outcomes == {"CALL-6": "completed"}


def test_old_settled_commands_are_deleted_and_abandoned_ones_failed(postgres_url: str) -> None:
    state = RoutingState(connect(postgres_url), "prune")
    state.prepare()
    commands.prepare(state)
    ages = {  # (state, minutes since sent, minutes since settled)
        "fresh done": ("done", 1, 1),
        "week-old done": ("done", 8 * 24 * 60, 8 * 24 * 60),
        "week-old failed": ("failed", 8 * 24 * 60, 8 * 24 * 60),
        "six-day-old done": ("done", 6 * 24 * 60, 6 * 24 * 60),
        "pending a minute": ("pending", 1, None),
        "running an hour": ("running", 60, None),
        "pending an hour": ("pending", 60, None),
    }
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        for name, (status, sent, settled) in ages.items():
            conn.execute(
                "INSERT INTO acd_commands (center, call_id, agent_id, owner, sender, command, state,"
                " created_at, done_at) VALUES ('prune', %s, '8001', 'A', 'B', 'hold', %s,"
                " now() - make_interval(mins => %s), now() - make_interval(mins => %s))",
                (name, status, sent, settled),
            )
        conn.execute(
            "INSERT INTO acd_commands (center, call_id, agent_id, owner, sender, command, state,"
            " created_at, done_at) VALUES ('other', 'x', '8001', 'A', 'B', 'hold', 'done',"
            " now() - interval '30 days', now() - interval '30 days')"
        )
    assert commands.prune(state) == 2
    with psycopg.connect(postgres_url) as conn:
        left = dict(conn.execute("SELECT call_id, state FROM acd_commands WHERE center = 'prune'").fetchall())
        other = conn.execute("SELECT count(*) FROM acd_commands WHERE center = 'other'").fetchone()
    assert left == {
        "fresh done": "done",
        "six-day-old done": "done",
        "pending a minute": "pending",  # its sender may still be waiting
        "running an hour": "failed",
        "pending an hour": "failed",
    }
    assert other == (1,)  # another center's rows are its own to prune
    state.conn.close()
