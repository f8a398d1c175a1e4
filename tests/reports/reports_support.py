"""Traffic with known outcomes for the report tests: calls run through the real engine,
the real ACD (agents answering by script), the real SQLite call records with the ACD and
seat journals, and the real agents' journal, all on one virtual clock."""

from __future__ import annotations

import textwrap
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trio

from ivr.adapters.cti.audit import AgentEvent, SqliteAgentJournal
from ivr.adapters.hosting.queues import AcdJournal, SeatJournal
from ivr.adapters.storage import SqliteCallRecords, open_sqlite_call_records
from ivr.adapters.storage.campaigns import open_sqlite_campaign_store
from ivr.flowlang.compile import compile_flow
from ivr.flowlang.ir import Flow, Project
from ivr.flowlang.yamlsource import load_yaml
from ivr.runtime.acd import Acd, AcdSettings, AgentStateChanged, QueueConfig, open_acd
from ivr.runtime.campaigns.model import Attempt, AttemptOutcome, CampaignRun, Contact, Skip
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import Engine
from ivr.runtime.ports import CallEnding, CallEvent, CampaignStore, Recording
from ivr.runtime.testing import FixtureOperations, MemoryCallLeg, MemoryChannels, VirtualWallClock
from ivr.runtime.testing.acd import AgentAnswer, MemoryAgentConnector

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ANSWERS = AgentAnswer(ring=3, talk=40)  # every offer: rings 3 s, talks 40 s
TENANT = "bank"

FLOW_TEXT = """\
flow: main
languages: [en]
start: pick
nodes:
  pick:
    type: menu
    prompt: Press 1 for your balance, 2 for an agent
    options: {"1": balance, "2": agent}
    on_no_input: bye
    on_no_match: bye
  balance:
    type: say
    prompt: Your balance is ten yuan
    next: bye
  agent:
    type: enqueue
    queue: general
    max_wait: 60s
    next: bye
    on_timeout: bye
    on_overflow: bye
    on_no_agents: bye
  bye:
    type: hangup
"""


SERVICE_TEXT = """\
service: bank
languages: [en]
queues:
  general: {skills: []}
"""


def main_flow() -> Flow:
    loaded = load_yaml(textwrap.dedent(FLOW_TEXT), "flows/main.yaml")
    compiled, problems = compile_flow(loaded.data, loaded.source_map, "flows/main.yaml")
    assert compiled is not None and not [d for d in problems if d.is_error], problems
    return compiled


class Tape:
    """Every write of the call records, seat sessions and agents' journal, in order, so that
    it can be replayed into the real SQLite stores after the traffic: SQLite's worker
    threads and trio's jumping virtual clock do not mix, the order and times do."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.writes: list[tuple[str, tuple[object, ...]]] = []
        self.sessions = 0

    async def call_started(self, call_id: str, *, flow: str, caller: str, dialed: str, at: datetime) -> None:
        self.writes.append(("call_started", (call_id, flow, caller, dialed, at)))

    async def call_event(self, event: CallEvent) -> None:
        self.writes.append(("call_event", (event,)))

    async def call_ended(self, call_id: str, *, how: CallEnding, at: datetime) -> None:
        self.writes.append(("call_ended", (call_id, how, at)))

    async def store_recording(
        self, call_id: str, recording: Recording, metadata: Mapping[str, object]
    ) -> None:
        pass

    async def agent_logged_in(self, tenant: str, agent: str, at: datetime) -> int:
        self.sessions += 1
        self.writes.append(("agent_logged_in", (tenant, agent, at)))
        return self.sessions

    async def agents_seen(self, sessions: list[int], at: datetime) -> None:
        self.writes.append(("agents_seen", (sessions, at)))

    async def agent_logged_out(self, session: int, at: datetime) -> None:
        self.writes.append(("agent_logged_out", (session, at)))

    async def record(self, event: AgentEvent) -> None:
        self.writes.append(("journal", (event,)))

    async def replay(self, store: SqliteCallRecords, journal: SqliteAgentJournal) -> None:
        sessions: dict[int, int] = {}
        for what, args in self.writes:
            match what, args:
                case "call_started", (
                    str() as call_id,
                    str() as flow,
                    str() as caller,
                    str() as dialed,
                    datetime() as at,
                ):
                    await store.call_started(
                        call_id, flow=flow, caller=caller, dialed=dialed, at=at, tenant=self.tenant
                    )
                case "call_event", (CallEvent() as event,):
                    await store.call_event(event)
                case "call_ended", (str() as call_id, str() as how, datetime() as at):
                    await store.call_ended(call_id, how=how, at=at)
                case "agent_logged_in", (str() as tenant, str() as agent, datetime() as at):
                    sessions[len(sessions) + 1] = await store.agent_logged_in(tenant, agent, at)
                case "agents_seen", (list() as seen, datetime() as at):
                    await store.agents_seen([sessions[s] for s in seen], at)
                case "agent_logged_out", (int() as session, datetime() as at):
                    await store.agent_logged_out(sessions[session], at)
                case "journal", (AgentEvent() as event,):
                    await journal.record(event)


async def state_journal(
    acd: Acd,
    journal: Tape,
    now: Callable[[], datetime],
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """What the CTI server writes into the agents' journal on each state change."""
    events = acd.subscribe(buffer=4096)
    task_status.started()
    async for event in events:
        if isinstance(event, AgentStateChanged) and event.state != event.previous:
            at = now() - timedelta(seconds=max(0.0, trio.current_time() - event.at))
            await journal.record(AgentEvent(at, "state", event.agent_id, None, {"state": event.state.value}))


@dataclass
class Site:
    """A running engine over real stores; `call` starts a caller at a virtual moment."""

    engine: Engine
    acd: Acd
    clock: VirtualWallClock
    nursery: trio.Nursery
    tape: Tape | None = None

    def call(self, call_id: str, at: float, keys: str = "", hang_up_at: float | None = None) -> None:
        async def caller() -> None:
            await trio.sleep_until(self.origin + at)
            leg = MemoryCallLeg(call_id=call_id, seconds_per_char=0.0)
            if keys:
                leg.press(keys)
            if hang_up_at is not None:
                self.nursery.start_soon(_hang_up_at, leg, self.origin + hang_up_at)
            await self.engine.run_call(leg, "main")

        self.nursery.start_soon(caller)

    @property
    def origin(self) -> float:
        return ORIGIN[0]

    async def hold(self, at: float, call_id: str, agent: str, on: bool) -> None:
        """At `at`, the agent's desk puts the caller on hold (or takes them back), as the CTI
        writes it on the caller's record."""
        await trio.sleep_until(self.origin + at)
        assert self.tape is not None
        await self.tape.call_event(
            CallEvent(call_id, "agent_hold", self.clock.now(), None, {"agent": agent, "on": on})
        )


ORIGIN = [0.0]


async def _hang_up_at(leg: MemoryCallLeg, deadline: float) -> None:
    await trio.sleep_until(deadline)
    if not leg.ended:
        leg.hang_up()


async def run_traffic(
    database: Path,
    journal_path: Path,
    script: Callable[[Site], Awaitable[None]],
    *,
    answers: AgentAnswer = ANSWERS,
    wrap_up: float = 10.0,
    scripts: Mapping[str, Sequence[AgentAnswer]] | None = None,
    capacity: int | None = None,
) -> None:
    """Run `script` on the virtual clock over the engine and the ACD with its journals, then
    write everything they wrote into the SQLite stores at `database` and `journal_path`."""
    ORIGIN[0] = trio.current_time()
    clock = VirtualWallClock(T0)
    clock.now()  # pins T0 to this moment of the trio clock
    connector = MemoryAgentConnector(default=answers)
    for agent, script_of_agent in (scripts or {}).items():
        connector.script(agent, *script_of_agent)
    general = QueueConfig("general", announce_every=None, wrap_up=wrap_up, capacity=capacity)
    settings = AcdSettings({"general": general})
    tape = Tape(TENANT)
    async with open_acd(connector, settings) as acd:
        ports = CallPorts(FixtureOperations(), MemoryChannels(), acd, tape, clock)
        engine = Engine(Project({"main": main_flow()}, None, {}), ports)
        async with trio.open_nursery() as background:
            await background.start(AcdJournal(acd, tape, clock.now).run)
            await background.start(SeatJournal(acd, tape, TENANT, clock.now).run)
            await background.start(state_journal, acd, tape, clock.now)
            async with trio.open_nursery() as calls:
                await script(Site(engine, acd, clock, calls, tape))
            await trio.sleep(1)  # the journals write what is left
            background.cancel_scope.cancel()
    journal = await SqliteAgentJournal.open(journal_path)
    async with open_sqlite_call_records(database) as store:
        await tape.replay(store, journal)


# The story, in seconds after 09:00 UTC (the agent rings 3 s, talks 40 s, wraps up 10 s):
#   t=0    a1 logs in ready. c1 presses 1 (balance): self-service. c2 says nothing and
#          hangs up at t=2 in the menu.
#   t=10   c3 presses 2: a1 rings 10..13, talks 13..53 (wait 3 s), wraps up 53..63.
#   t=20   c4 presses 2: waits for a1, rings 63..66, talks 66..106 (wait 46 s), wraps 106..116.
#   t=30   c5 presses 2: waits, hangs up at t=50 (abandoned after 20 s).
#   a1 puts c3 on hold 20..28 (8 s) and c4 80..85 (5 s): hold 13 s, 6.5 s per answered call.
#   t=200  a1 logs out.


async def five_calls(site: Site) -> None:
    site.acd.login("a1", "sip:a1@pbx", {}, ready=True)
    site.call("c1", 0, keys="1")
    site.call("c2", 0, hang_up_at=2)
    site.call("c3", 10, keys="2")
    site.call("c4", 20, keys="2")
    site.call("c5", 30, keys="2", hang_up_at=50)
    await site.hold(20, "c3", "a1", True)
    await site.hold(28, "c3", "a1", False)
    await site.hold(80, "c4", "a1", True)
    await site.hold(85, "c4", "a1", False)
    await trio.sleep_until(site.origin + 200)
    site.acd.logout("a1")


# Outbound attempts of two campaigns, in minutes after 09:00 UTC (a campaign store's rows):
#   margin_call      09:05 answered, 09:06 machine, 09:10 busy, 09:20 no_answer, 09:21 no_answer,
#                    09:40 failed, 09:50 yielded (other), 09:55 still ringing (in progress);
#                    10:05 answered, 10:06 busy; skipped as do-not-call at 09:30 and 10:10
#   dividend_notice  09:15 answered, 09:16 answered
CAMPAIGN_ATTEMPTS: list[tuple[str, int, AttemptOutcome | None]] = [
    ("margin_call", 5, "answered"),
    ("margin_call", 6, "machine"),
    ("margin_call", 10, "busy"),
    ("margin_call", 20, "no_answer"),
    ("margin_call", 21, "no_answer"),
    ("margin_call", 40, "failed"),
    ("margin_call", 50, "yielded"),
    ("margin_call", 55, None),
    ("margin_call", 65, "answered"),
    ("margin_call", 66, "busy"),
    ("dividend_notice", 15, "answered"),
    ("dividend_notice", 16, "answered"),
]
CAMPAIGN_OPT_OUTS = [("margin_call", 30), ("margin_call", 70)]


async def seed_campaigns(path: Path) -> None:
    async with open_sqlite_campaign_store(path) as store:
        await seed_campaign_store(store)


async def seed_campaign_store(store: CampaignStore) -> None:
    """The runs, attempts and opt-outs of `CAMPAIGN_ATTEMPTS` and `CAMPAIGN_OPT_OUTS`."""
    runs = {"margin_call": "r1", "dividend_notice": "r2"}
    for campaign, run_id in runs.items():
        contacts = [Contact(f"k{n}", f"1380000{n:04d}") for n in range(20)]
        await store.create_run(CampaignRun(run_id, campaign, "running", T0), contacts)
    for n, (campaign, minutes, outcome) in enumerate(CAMPAIGN_ATTEMPTS):
        at, run_id = T0 + timedelta(minutes=minutes), runs[campaign]
        attempt = Attempt(f"{run_id}-k{n}-1", run_id, f"k{n}", 1, f"1380000{n:04d}", at)
        await store.begin_attempt(attempt)
        if outcome is not None:
            await store.finish_attempt(attempt.attempt_id, outcome, at + timedelta(seconds=20))
    for n, (campaign, minutes) in enumerate(CAMPAIGN_OPT_OUTS):
        skip = Skip(runs[campaign], f"k{n + 15}", "do_not_call", T0 + timedelta(minutes=minutes))
        await store.skip(skip)
