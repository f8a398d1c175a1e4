"""Queue callbacks in the trio ACD: a caller who presses the key keeps their place as a
virtual entry; when it reaches an agent, the agent is reserved and the customer is dialled
through the (scripted) trunk dialer, then connected; unanswered, it is retried, then given
up; kept places survive a restart through the callback journal."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import trio

from ivr.runtime.acd import AcdSettings, AgentState, QueueConfig, open_acd
from ivr.runtime.acd.callbacks import CallbackSettings
from ivr.runtime.ports import CallbackOffer, CallEnded, DialRequest, KeptPlace, QueueRequest, SpokenPrompt
from ivr.runtime.testing import MemoryCallLeg
from ivr.runtime.testing.acd import AgentAnswer, MemoryAgentConnector
from ivr.runtime.testing.callbacks import MemoryCallbackJournal
from ivr.runtime.testing.campaigns import Answer, ScriptedDialer

SILENT = AcdSettings({"general": QueueConfig("general", announce_every=None, wrap_up=0)})
OFFER_TEXT = "press 1 to be called back"


def offer(number: str, after: float = 30) -> CallbackOffer:
    return CallbackOffer("1", Decimal(str(after)), SpokenPrompt(OFFER_TEXT, "en"), number)


class Queue:
    """Callers queued in a nursery; `outcomes` maps call id to the ACD's answer."""

    def __init__(self, acd: object, nursery: trio.Nursery) -> None:
        self.acd, self.nursery = acd, nursery
        self.legs: dict[str, MemoryCallLeg] = {}
        self.outcomes: dict[str, str] = {}

    def start(self, call_id: str, *, callback: bool = False, priority: int = 0) -> MemoryCallLeg:
        leg = MemoryCallLeg(call_id=call_id, caller=f"1390000{call_id}")
        self.legs[call_id] = leg
        wanted = offer(leg.caller) if callback else None
        request = QueueRequest("general", (), priority, {}, None, callback=wanted)
        self.nursery.start_soon(self._run, leg, request)
        return leg

    async def _run(self, leg: MemoryCallLeg, request: QueueRequest) -> None:
        try:
            self.outcomes[leg.call_id] = await self.acd.enqueue(leg, request)  # type: ignore[attr-defined]
        except CallEnded:
            self.outcomes[leg.call_id] = "hung_up"


def settings(dialer: ScriptedDialer, journal: MemoryCallbackJournal, **kwargs: object) -> CallbackSettings:
    return CallbackSettings(dialer, journal, "carrier", **kwargs)  # type: ignore[arg-type]


async def press_when_offered(leg: MemoryCallLeg, key: str = "1") -> None:
    await leg.wait_for(lambda: any(OFFER_TEXT in p.text for p in leg.prompts))
    leg.press(key)


async def test_a_kept_place_is_called_back_before_later_callers_and_bridged_to_the_agent(
    autojump_clock: object,
) -> None:
    connector, dialer, journal = MemoryAgentConnector(), ScriptedDialer(), MemoryCallbackJournal()
    connector.default = AgentAnswer(ring=1, talk=60)
    async with open_acd(connector, SILENT, settings(dialer, journal)) as acd, trio.open_nursery() as nursery:
        queue = Queue(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})  # not ready yet
        a = queue.start("A", callback=True)
        await press_when_offered(a)  # at once: the expected wait passes `after` already
        await trio.sleep(10)
        queue.start("B")  # arrives later, does not take the offer
        await trio.sleep(1)
        assert queue.outcomes == {"A": "callback"}
        assert acd.statistics().queues["general"].waiting == 2  # A's place is still in line
        acd.set_ready("a1")
        await trio.sleep(0.5)
        assert [r.number for r in dialer.placed] == [a.caller]  # A is dialled, B is not offered
        assert acd.statistics().agents["a1"].state is AgentState.RESERVED
        await trio.sleep(5)
        assert [(r.call_id, r.agent_id) for r in connector.rings] == [("A-cb1", "a1")]
        assert connector.rings[0].screen["callback"] == a.caller
        await trio.sleep(120)
        assert queue.outcomes == {"A": "callback", "B": "completed"}
        assert [r.call_id for r in connector.rings] == ["A-cb1", "B"]
    assert journal.steps_of("A") == ["offered", "accepted", "dialled", "answered", "connected"]
    assert journal.steps_of("B") == []
    assert acd.statistics().queues["general"].callbacks == 1


async def test_a_kept_place_keeps_its_priority_so_a_later_vip_goes_first(autojump_clock: object) -> None:
    connector, dialer, journal = MemoryAgentConnector(), ScriptedDialer(), MemoryCallbackJournal()
    async with open_acd(connector, SILENT, settings(dialer, journal)) as acd, trio.open_nursery() as nursery:
        queue = Queue(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})
        await press_when_offered(queue.start("A", callback=True))
        await trio.sleep(1)
        queue.start("V", priority=10)
        await trio.sleep(1)
        acd.set_ready("a1")
        await trio.sleep(2)
        assert [r.call_id for r in connector.rings] == ["V"] and dialer.placed == []


async def test_an_unanswered_callback_frees_the_agent_retries_then_gives_up(autojump_clock: object) -> None:
    connector, journal = MemoryAgentConnector(), MemoryCallbackJournal()
    dialer = ScriptedDialer(script=lambda request: Answer("no_answer", after=20))
    cb = settings(dialer, journal, attempts=2, retry_after=100.0)
    async with open_acd(connector, SILENT, cb) as acd, trio.open_nursery() as nursery:
        queue = Queue(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {}, ready=False)
        await press_when_offered(queue.start("A", callback=True))
        await trio.sleep(1)
        queue.start("B")
        acd.set_ready("a1")
        await trio.sleep(10)
        assert connector.rings == [] and len(dialer.placed) == 1  # a1 held for A, not offered B
        await trio.sleep(11)  # A did not answer: a1 is free again and takes B at once
        assert [r.call_id for r in connector.rings] == ["B"]
        await trio.sleep(300)  # B's call ends, A's retry falls due: a second call, then give up
        assert [r.attempt_id for r in dialer.placed] == ["A-cb1", "A-cb2"]
        stats = acd.statistics()
        assert stats.agents["a1"].state is AgentState.READY
        assert (stats.queues["general"].waiting, stats.queues["general"].callbacks_failed) == (0, 1)
    assert journal.steps_of("A") == [
        "offered", "accepted", "dialled", "no_answer", "dialled", "no_answer", "gave_up"
    ]  # fmt: skip


async def test_with_no_idle_trunk_channel_the_agent_is_released_and_nobody_is_dialled(
    autojump_clock: object,
) -> None:
    connector, journal = MemoryAgentConnector(), MemoryCallbackJournal()
    dialer = ScriptedDialer(channels=0)
    async with open_acd(connector, SILENT, settings(dialer, journal)) as acd, trio.open_nursery() as nursery:
        queue = Queue(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})
        await press_when_offered(queue.start("A", callback=True))
        await trio.sleep(1)
        queue.start("B")
        acd.set_ready("a1")
        await trio.sleep(3)
        assert dialer.placed == [] and [r.call_id for r in connector.rings] == ["B"]
        assert "no_channel" in journal.steps_of("A")


async def test_a_caller_who_does_not_press_waits_on_and_is_offered_once(autojump_clock: object) -> None:
    connector, dialer, journal = MemoryAgentConnector(), ScriptedDialer(), MemoryCallbackJournal()
    async with open_acd(connector, SILENT, settings(dialer, journal)) as acd, trio.open_nursery() as nursery:
        queue = Queue(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})
        a = queue.start("A", callback=True)
        await trio.sleep(200)
        assert [p.text for p in a.prompts if OFFER_TEXT in p.text] == [OFFER_TEXT]
        a.press("1")  # too late: the offer is over
        acd.set_ready("a1")
        await trio.sleep(2)
        assert [r.call_id for r in connector.rings] == ["A"] and dialer.placed == []


async def test_kept_places_are_read_back_at_start_and_served_before_new_callers(
    autojump_clock: object,
) -> None:
    journal = MemoryCallbackJournal()
    accepted = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    await journal.keep(KeptPlace("old", "general", [], 0, "13911112222", accepted, attempts=1))
    connector, dialer = MemoryAgentConnector(), ScriptedDialer()
    async with open_acd(connector, SILENT, settings(dialer, journal)) as acd, trio.open_nursery() as nursery:
        queue = Queue(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {})
        queue.start("new")
        await trio.sleep(1)
        acd.set_ready("a1")
        await trio.sleep(3)
        expected = DialRequest("old-cb2", "13911112222", "carrier", Decimal(30), False, yield_answered=False)
        assert dialer.placed == [expected]
        assert [r.call_id for r in connector.rings] == ["old-cb2"]


WRAPPING = AcdSettings({"general": QueueConfig("general", announce_every=None, wrap_up=30)})


async def test_an_agent_whose_wrap_up_ends_soon_is_reserved_for_the_kept_place_at_the_head(
    autojump_clock: object,
) -> None:
    connector, dialer, journal = MemoryAgentConnector(), ScriptedDialer(), MemoryCallbackJournal()
    connector.default = AgentAnswer(ring=1, talk=50)
    cb = settings(dialer, journal, wrap_up_lead=10.0)
    async with open_acd(connector, WRAPPING, cb) as acd, trio.open_nursery() as nursery:
        queue = Queue(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {}, ready=True)
        queue.start("first")  # a1 talks with it from t=0 (ring 1 s, talk 50 s), then wraps up 30 s
        await trio.sleep(0.5)
        await press_when_offered(queue.start("A", callback=True))
        await trio.sleep(60)  # t=60: a1 in wrap-up until t=81
        assert acd.statistics().agents["a1"].state is AgentState.WRAP_UP and dialer.placed == []
        await trio.sleep(11)  # t=71: ten seconds before the end of wrap-up, A is called
        assert [r.number for r in dialer.placed] == [queue.legs["A"].caller]
        assert dialer.placed and acd.statistics().agents["a1"].state is not AgentState.WRAP_UP


async def test_wrap_up_is_not_cut_short_when_a_live_caller_is_next(autojump_clock: object) -> None:
    connector, dialer, journal = MemoryAgentConnector(), ScriptedDialer(), MemoryCallbackJournal()
    connector.default = AgentAnswer(ring=1, talk=50)
    async with (
        open_acd(connector, WRAPPING, settings(dialer, journal)) as acd,
        trio.open_nursery() as nursery,
    ):
        queue = Queue(acd, nursery)
        acd.login("a1", "sip:a1@pbx", {}, ready=True)
        queue.start("first")
        await trio.sleep(0.5)
        queue.start("B")  # waits on the line, ahead of any kept place
        await trio.sleep(75)  # past the early point (t=71), before wrap-up ends (t=81)
        assert acd.statistics().agents["a1"].state is AgentState.WRAP_UP
        await trio.sleep(10)
        assert [r.call_id for r in connector.rings] == ["first", "B"] and dialer.placed == []
