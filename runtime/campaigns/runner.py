"""The campaign runner: drives one `CampaignCore` per run with trio, durably.

Place: between the control surfaces (`ivr campaign`, the HTTP API) and the ports: the
`CampaignStore` (every decision is stored before it is acted on), the `Dialer` (SIP
trunks) and the `Engine` (the flow an answered call runs). The composition root opens it
with `open_campaigns` beside the SIP endpoint.

The order that makes a restart safe, for each attempt:

    store.begin_attempt  ->  dialer.call (INVITE ... flow ... BYE)  ->  [store.add_do_not_call]
    ->  store.finish_attempt  ->  core.finished

so an attempt is never placed unless stored, and never stored twice (its id is the key).
When that outcome leaves the contact done unreached and the campaign has an `sms_fallback`,
its text is queued in the outbox just before `store.finish_attempt`.
At start-up `store.recover` closes the attempts a crash left open as "interrupted" and the
cores are rebuilt from the store; the next attempt of such a contact has a new id.

The loop wakes when an attempt ends, a run changes state or the next contact falls due,
and at least every `tick` seconds to see channels freed by inbound calls.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Literal, Protocol

import trio

from ivr.flowlang.ir import OPTED_OUT, CalendarDecl, CampaignDecl, Project
from ivr.runtime.campaigns.core import CampaignCore, CampaignStateError, Complete, Decision, Dial, SkipContact
from ivr.runtime.campaigns.model import (
    AttemptOutcome,
    CampaignRun,
    Contact,
    Progress,
    is_contact_key,
    is_safe_id,
)
from ivr.runtime.campaigns.trial import contact_values
from ivr.runtime.engine import CallOutcome
from ivr.runtime.ports import (
    Answered,
    AnsweredBy,
    CallLeg,
    CampaignStore,
    DeliveryError,
    Dialer,
    DialRequest,
    DialResult,
    MessageChannels,
    MessageOrigin,
    OutboundCall,
    StoreConflict,
    WallClock,
)

log = logging.getLogger(__name__)
Action = Literal["start", "pause", "resume", "stop"]
TICK = 0.25


class CampaignError(Exception):
    """A control request cannot be done: unknown campaign or run, a run id taken or not
    safe, a state that does not allow it. The message says which."""


@dataclass(frozen=True)
class Added:
    """What an add did: the contact keys newly taken, and how many the run had already."""

    run_id: str
    added: tuple[str, ...]
    already: int

    def as_json(self) -> dict[str, object]:
        return {"run": self.run_id, "added": len(self.added), "already": self.already}


class FlowRunner(Protocol):
    """What runs an answered call's flow: the `Engine`, or in `ivr serve` the tenant's
    current version's engine (`ivr.adapters.dialer.hosting.TenantFlows`)."""

    async def run_call(
        self, leg: CallLeg, flow: str, *, outbound: OutboundCall | None = None
    ) -> CallOutcome: ...


class CampaignRunner:
    """Every run of the project's campaigns. Use `open_campaigns`."""

    def __init__(
        self,
        project: Project,
        store: CampaignStore,
        dialer: Dialer,
        engine: FlowRunner,
        clock: WallClock,
        *,
        tick: float = TICK,
        messages: MessageChannels | None = None,
    ) -> None:
        self.project = project
        self.messages = messages  # the outbox a campaign's `sms_fallback` sends through
        self.sms_fallbacks = 0
        self.store = store
        self.dialer = dialer
        self.engine = engine
        self.clock = clock
        self.tick = tick
        self.cores: dict[str, CampaignCore] = {}
        self.do_not_call: set[str] = set()
        self.failures = 0  # attempts whose dialling raised (a bug in a dialer): logged, "failed"
        self._poke = trio.Event()
        self._changed = trio.Event()
        self._adding = trio.Lock()

    # -- definitions ------------------------------------------------------------------------
    @property
    def definitions(self) -> Mapping[str, CampaignDecl]:
        service = self.project.service
        return service.campaigns if service else {}

    def _decl(self, name: str) -> CampaignDecl:
        decl = self.definitions.get(name)
        if decl is None:
            known = ", ".join(self.definitions) or "none declared"
            raise CampaignError(f"there is no campaign {name!r} in the service file ({known})")
        return decl

    def _calendar(self, decl: CampaignDecl) -> CalendarDecl | None:
        service = self.project.service
        return service.calendars.get(decl.calendar) if service and decl.calendar else None

    # -- start-up ---------------------------------------------------------------------------
    async def restore(self) -> list[str]:
        """Close attempts a crash left open, load the do-not-call list and every run."""
        interrupted = await self.store.recover(self.clock.now())
        if interrupted:
            log.warning("closed %d attempt(s) left open by the last run as 'interrupted'", len(interrupted))
        self.do_not_call = await self.store.do_not_call()
        for run in await self.store.runs():
            await self._restore_run(run.run_id)
        return interrupted

    async def take_over(self, run_ids: Sequence[str]) -> list[str]:
        """Drive runs a dead peer left (already this instance's in the store, their open
        attempts closed): each is rebuilt from the store as at a restart. The ids taken."""
        taken = [run_id for run_id in run_ids if run_id not in self.cores and await self._restore_run(run_id)]
        if taken:
            self._wake()
        return taken

    def refresh_do_not_call(self, numbers: set[str]) -> int:
        """Numbers opted out elsewhere (another instance): every run skips them from now
        on (the set is shared by the cores). How many were new."""
        fresh = numbers - self.do_not_call
        self.do_not_call.update(fresh)
        return len(fresh)

    async def _restore_run(self, run_id: str) -> bool:
        records = await self.store.load(run_id)
        if records is None or records.run.campaign not in self.definitions:
            campaign = records.run.campaign if records else "?"
            log.warning("run %s of campaign %s is no longer declared: left as it is", run_id, campaign)
            return False
        decl = self.definitions[records.run.campaign]
        core = self.cores[run_id] = CampaignCore.restore(
            records, decl, self._calendar(decl), self.do_not_call, self.clock.now()
        )
        if core.state != records.run.state:
            await self.store.set_state(run_id, core.state, self.clock.now())
        return True

    # -- control ----------------------------------------------------------------------------
    async def create(
        self, campaign: str, contacts: Sequence[Contact], run_id: str | None = None
    ) -> CampaignRun:
        """A new run of `campaign` over `contacts`, stored, not yet started."""
        decl = self._decl(campaign)
        now = self.clock.now()
        run_id = run_id or f"{campaign}-{now.strftime('%Y%m%d-%H%M%S')}"
        if not is_safe_id(run_id):
            raise CampaignError(f"run id {run_id!r} may hold only letters, digits, '_', '.' and '-'")
        if run_id in self.cores:
            raise CampaignError(f"run {run_id} exists already")
        run = CampaignRun(run_id, campaign, "created", now, len(contacts))
        await self.store.create_run(run, contacts)
        core = CampaignCore(run, decl, self._calendar(decl), contacts, self.do_not_call, now)
        self.cores[run_id] = core
        return run

    async def add(self, run_id: str, contacts: Sequence[Contact]) -> Added:
        """Add contacts to a run, stored first, due at once. A contact id is the caller's
        key: one the run has already is ignored (a retried add never calls twice). Keys
        are letters, digits, `_` and `.` (they go into attempt ids)."""
        core = self._core(run_id)
        seen: set[str] = set()
        for contact in contacts:
            if not is_contact_key(contact.contact_id):
                raise CampaignError(
                    f"contact key {contact.contact_id!r} may hold only letters, digits, '_' and '.' "
                    "(at most 64)"
                )
            if contact.contact_id in seen:
                raise CampaignError(f"contact key {contact.contact_id!r} comes twice in one list")
            seen.add(contact.contact_id)
        if core.state == "stopped":
            raise CampaignError(f"run {run_id} is stopped: it takes no more contacts")
        fresh = [c for c in contacts if not core.has_contact(c.contact_id)]
        async with self._adding:  # one add at a time: the store and the core agree on what is new
            now = self.clock.now()
            try:
                stored = set(await self.store.add_contacts(run_id, fresh, now)) if fresh else set()
            except StoreConflict as exc:
                raise CampaignError(str(exc)) from None
            taken = core.add([c for c in fresh if c.contact_id in stored], now)
        self._wake()
        return Added(run_id, tuple(taken), len(contacts) - len(taken))

    async def control(self, run_id: str, action: Action) -> Progress:
        """`start`, `pause`, `resume` or `stop` a run: stored first, then in force."""
        core = self._core(run_id)
        try:
            target = core.change(action)
        except CampaignStateError as exc:
            raise CampaignError(str(exc)) from None
        await self.store.set_state(run_id, target, self.clock.now())
        core.apply(target)
        self._wake()
        return core.progress(self.clock.now())

    def progress(self, run_id: str) -> Progress:
        return self._core(run_id).progress(self.clock.now())

    def all_progress(self) -> list[Progress]:
        now = self.clock.now()
        return [core.progress(now) for core in self.cores.values()]

    def _core(self, run_id: str) -> CampaignCore:
        core = self.cores.get(run_id)
        if core is None:
            raise CampaignError(f"there is no run {run_id!r}")
        return core

    # -- the loop ---------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            task_status.started()
            while True:
                await self._step(nursery)
                await self._sleep()

    async def _step(self, nursery: trio.Nursery) -> None:
        now = self.clock.now()
        free: dict[str, int] = {}
        for core in list(self.cores.values()):
            if core.state != "running":
                continue
            trunk = core.decl.trunk
            if trunk not in free:
                free[trunk] = self.dialer.free_channels(trunk)
            decisions = core.next_dials(now, free[trunk])
            free[trunk] -= sum(1 for d in decisions if isinstance(d, Dial))
            for decision in decisions:
                if core.run.run_id not in self.cores:
                    break  # given up below: another instance drives it now
                await self._carry_out(core, decision, nursery)

    async def _carry_out(self, core: CampaignCore, decision: Decision, nursery: trio.Nursery) -> None:
        match decision:
            case Dial():
                try:
                    await self.store.begin_attempt(decision.attempt)  # durable before the INVITE
                except StoreConflict as exc:
                    self._give_up_run(core, exc)
                    return
                nursery.start_soon(self._attempt, core, decision)
            case SkipContact():
                await self.store.skip(decision.skip)
            case Complete():
                await self.store.set_state(decision.run_id, "completed", self.clock.now())
                log.info("campaign run %s is complete", decision.run_id)
                self._wake()

    async def _sleep(self) -> None:
        now = self.clock.now()
        wakes = [w for core in self.cores.values() if (w := core.next_wake(now)) is not None]
        delay = self.tick
        if wakes:
            delay = min(delay, max(0.0, (min(wakes) - now).total_seconds()))
        if self._poke.is_set():
            self._poke = trio.Event()
            delay = min(delay, 0.0)
        with trio.move_on_after(max(delay, 0.005)):
            await self._poke.wait()

    def _wake(self) -> None:
        """Something changed (an attempt ended, a run's state): decide again, tell watchers."""
        self._poke.set()
        self._changed.set()
        self._changed = trio.Event()

    async def wait_changed(self) -> None:
        """Return at the next change of any run (an attempt ended, a state changed)."""
        await self._changed.wait()

    # -- one attempt ------------------------------------------------------------------------
    async def _attempt(self, core: CampaignCore, dial: Dial) -> None:
        attempt, contact, decl = dial.attempt, dial.contact, core.decl
        request = DialRequest(
            attempt.attempt_id,
            contact.number,
            decl.trunk,
            ring_timeout=decl.ring_timeout,
            detect_machines=decl.detect_machines,
            leave_message=decl.machine == "leave_message",
        )
        dispositions: list[str] = []

        async def answered(leg: CallLeg, answered_by: AnsweredBy) -> None:
            campaign = {"name": decl.name, "run": core.run.run_id, "attempt": attempt.n}
            fields = contact_values(self.project.flows[decl.flow], contact.fields)
            outcome = await self.engine.run_call(
                leg, decl.flow, outbound=OutboundCall(fields, campaign, answered_by)
            )
            value = outcome.variables.get("disposition")
            if isinstance(value, str) and value:
                dispositions.append(value)

        result = await self._dial(request, answered)
        disposition = dispositions[-1] if dispositions else None
        with trio.CancelScope(shield=True):  # the outcome is written even during shutdown
            await self._record(core, attempt.attempt_id, contact.number, result, disposition)
        self._wake()

    def _give_up_run(self, core: CampaignCore, exc: StoreConflict) -> None:
        """The store refused an attempt of this run: another instance took the run over
        while this one was stalled (on a shared database), so this runner stops driving it
        and leaves its other runs alone."""
        if self.cores.pop(core.run.run_id, None) is not None:
            log.warning("campaign run %s: %s; this instance no longer dials it", core.run.run_id, exc)

    async def _dial(self, request: DialRequest, answered: Answered) -> DialResult:
        try:
            return await self.dialer.call(request, answered)
        except Exception as exc:  # a dialer bug must not end the campaign: this attempt failed
            self.failures += 1
            log.exception("attempt %s: dialling failed", request.attempt_id)
            return DialResult("failed", 0, f"dialler error: {exc!r}"[:200])

    async def _record(
        self, core: CampaignCore, attempt_id: str, number: str, result: DialResult, disposition: str | None
    ) -> None:
        now = self.clock.now()
        if disposition == OPTED_OUT:
            await self.store.add_do_not_call(number, now, source=attempt_id)
        outcome: AttemptOutcome = result.outcome
        if core.ends_unreached(attempt_id, outcome, ran_flow=result.ran_flow):
            await self._fall_back(core, attempt_id)  # queued before the attempt is closed
        try:
            await self.store.finish_attempt(
                attempt_id,
                outcome,
                now,
                disposition=disposition,
                ran_flow=result.ran_flow,
                detail=(result.reason or (f"SIP {result.status}" if result.status else ""))[:200],
            )
        except StoreConflict as exc:  # closed by an instance that took the run over
            self._give_up_run(core, exc)
            return
        for decision in core.finished(
            attempt_id, outcome, now, disposition=disposition, ran_flow=result.ran_flow, detail=result.reason
        ):
            if isinstance(decision, Complete):
                await self.store.set_state(decision.run_id, "completed", now)

    async def _fall_back(self, core: CampaignCore, attempt_id: str) -> None:
        """The contact's last try reached nobody: its `sms_fallback` text goes to the outbox
        (durable once `send` returns). Queued before the attempt's outcome is stored, so a
        crash in between never loses it: the attempt is then found `interrupted` and tried
        again, and the SMS may go a second time."""
        fallback = core.decl.sms_fallback
        if fallback is None or self.messages is None:
            return
        attempt = next(a for a in core.open_attempts() if a.attempt_id == attempt_id)
        contact = core.contact(attempt.contact_id)
        text = contact.fields.get(fallback.text)
        if not isinstance(text, str) or not text.strip():
            log.warning("attempt %s: no %s to send by SMS", attempt_id, fallback.text)
            return
        origin = MessageOrigin(attempt_id, core.decl.flow, "sms_fallback")
        try:
            await self.messages.send(fallback.channel, contact.number, text, None, origin=origin)
        except DeliveryError as exc:
            log.warning("attempt %s: the SMS fallback was refused: %s", attempt_id, exc)
            return
        self.sms_fallbacks += 1


@asynccontextmanager
async def open_campaigns(
    project: Project,
    store: CampaignStore,
    dialer: Dialer,
    engine: FlowRunner,
    clock: WallClock,
    *,
    tick: float = TICK,
    messages: MessageChannels | None = None,
) -> AsyncIterator[CampaignRunner]:
    """Restore every run from `store` and drive the running ones until the block ends
    (attempts in progress are then cancelled: hung up, and found open at the next start)."""
    runner = CampaignRunner(project, store, dialer, engine, clock, tick=tick, messages=messages)
    await runner.restore()
    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run)
        try:
            yield runner
        finally:
            nursery.cancel_scope.cancel()
