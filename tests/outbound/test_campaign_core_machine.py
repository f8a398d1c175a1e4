"""The campaign core under a hypothesis state machine: random contact lists, time zones,
windows, pacing and retry rules; random ticks with random free channels, outcomes,
opt-outs, pauses, stops and crashes (the core rebuilt from what was stored, open attempts
closed as interrupted). After every step:

- no attempt id is ever dialled twice, and no contact has two calls up;
- nothing is dialled while the run is not running, outside the callee's window, before a
  retry is due, to a number on the do-not-call list, beyond the free channels or the
  campaign's concurrency;
- a contact gets at most 1 + the sum of its retry allowances attempts, and none after it
  is done;
- the core's counts equal what the store holds.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ivr.flowlang.diagnostics import UNKNOWN_SPAN
from ivr.flowlang.ir import CalendarDecl, CampaignDecl, ContactSource, RetryRule
from ivr.runtime.calendars import OPEN, status
from ivr.runtime.campaigns.core import CampaignCore, CampaignStateError, Complete, Dial, SkipContact
from ivr.runtime.campaigns.model import Attempt, AttemptOutcome, CampaignRun, Contact, RunRecords, Skip

T0 = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # a Monday, early morning in Shanghai
ZONES = ["Asia/Shanghai", "America/New_York", "Europe/London"]
CALENDAR = CalendarDecl(
    "callhours",
    "Asia/Shanghai",
    {day: (("09:00", "12:00"), ("13:30", "20:00")) for day in ("mon", "tue", "wed", "thu", "fri", "sat")},
    ("2026-03-04",),
    UNKNOWN_SPAN,
)
OUTCOMES: list[AttemptOutcome] = ["answered", "machine", "busy", "no_answer", "failed"]


def decl(
    max_concurrent: int, rate: float, retries: dict[str, tuple[int, int]], zone: str | None
) -> CampaignDecl:
    return CampaignDecl(
        name="news",
        flow="news",
        flow_span=UNKNOWN_SPAN,
        trunk="carrier",
        trunk_span=UNKNOWN_SPAN,
        contacts=ContactSource("news.csv", None, None, "phone", None, UNKNOWN_SPAN),
        calendar="callhours",
        calendar_span=UNKNOWN_SPAN,
        timezone=zone,
        max_concurrent=max_concurrent,
        calls_per_second=Decimal(str(rate)),
        ring_timeout=Decimal(30),
        retries={k: RetryRule(Decimal(after), times) for k, (after, times) in retries.items()},  # type: ignore[misc]
        machine="hang_up",
        detect_machines=True,
        span=UNKNOWN_SPAN,
    )


class CampaignMachine(RuleBasedStateMachine):
    @initialize(
        contacts=st.lists(st.sampled_from([*ZONES, None]), min_size=1, max_size=10),
        listed=st.sets(st.integers(0, 9), max_size=3),
        max_concurrent=st.integers(1, 4),
        rate=st.sampled_from([0.2, 1.0, 5.0]),
        retries=st.dictionaries(
            st.sampled_from(["busy", "no_answer", "failed", "machine"]),
            st.tuples(st.integers(0, 7200), st.integers(0, 2)),
        ),
        use_calendar=st.booleans(),
    )
    def setup(
        self,
        contacts: list[str | None],
        listed: set[int],
        max_concurrent: int,
        rate: float,
        retries: dict[str, tuple[int, int]],
        use_calendar: bool,
    ) -> None:
        self.now = T0
        self.decl = decl(max_concurrent, rate, retries, None)
        self.calendar = CALENDAR if use_calendar else None
        self.contacts = [
            Contact(f"c{i}", f"1380000{i:04d}", {"i": i}, zone) for i, zone in enumerate(contacts)
        ]
        self.by_id = {c.contact_id: c for c in self.contacts}
        self.dnc = {f"1380000{i:04d}" for i in listed}
        self.stored_dnc = set(self.dnc)
        self.run = CampaignRun("june", "news", "created", T0)
        # the durable side, as the runner keeps it: written before the core acts on it
        self.attempts: dict[str, Attempt] = {}
        self.skips: list[Skip] = []
        self.state = "created"
        self.core = CampaignCore(self.run, self.decl, self.calendar, self.contacts, self.dnc, T0)
        self.up: dict[str, Attempt] = {}
        self.ever_dialled: set[str] = set()
        self.done: set[str] = set()

    # -- time and state ------------------------------------------------------------------
    @rule(seconds=st.sampled_from([0.1, 0.5, 1, 7, 60, 600, 3600, 4 * 3600]))
    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    @rule(action=st.sampled_from(["start", "pause", "resume", "stop"]))
    def change_state(self, action: str) -> None:
        try:
            target = self.core.change(action)
        except CampaignStateError:
            return
        self.state = target  # stored first
        self.core.apply(target)

    # -- dialling --------------------------------------------------------------------------
    @rule(free=st.integers(0, 5))
    def tick(self, free: int) -> None:
        running = self.core.state == "running"
        calling_before = len(self.up)
        decisions = self.core.next_dials(self.now, free)
        dials = [d for d in decisions if isinstance(d, Dial)]
        assert running or not dials, "a run that is not running placed a call"
        assert len(dials) <= free
        assert calling_before + len(dials) <= self.decl.max_concurrent
        for decision in decisions:
            if isinstance(decision, Dial):
                self._dialled(decision)
            elif isinstance(decision, SkipContact):
                assert self.by_id[decision.skip.contact_id].number in self.dnc
                self.skips.append(decision.skip)
                self.done.add(decision.skip.contact_id)
            elif isinstance(decision, Complete):
                assert not self.up
                self.state = "completed"

    def _dialled(self, dial: Dial) -> None:
        attempt, contact = dial.attempt, dial.contact
        assert attempt.attempt_id not in self.ever_dialled, "an attempt was dialled twice"
        assert contact.contact_id not in self.done, "a contact that is done was called again"
        assert all(a.contact_id != contact.contact_id for a in self.up.values()), (
            "two calls up to one contact"
        )
        assert contact.number not in self.dnc, "a number on the do-not-call list was called"
        if self.calendar is not None:
            zone = contact.timezone or self.calendar.timezone
            local = CalendarDecl(CALENDAR.name, zone, CALENDAR.hours, CALENDAR.holidays, UNKNOWN_SPAN)
            assert status(local, self.now) == OPEN, "called outside the callee's window"
            assert self.now.astimezone(ZoneInfo(zone)).date().isoformat() not in CALENDAR.holidays
        earlier = [a for a in self.attempts.values() if a.contact_id == contact.contact_id]
        assert attempt.n == len(earlier) + 1
        if earlier:
            last = max(earlier, key=lambda a: a.n)
            assert last.outcome is not None and last.ended_at is not None
            assert last.outcome != "answered" and not (last.outcome == "machine" and last.ran_flow)
            rule = self.decl.retries.get(_rule(last.outcome))  # type: ignore[call-overload]
            assert rule is not None, f"retried after {last.outcome} without a rule for it"
            tries = sum(1 for a in earlier if a.outcome and _rule(a.outcome) == _rule(last.outcome))
            assert tries <= rule.times, "retried more often than the rule allows"
            assert self.now >= last.ended_at + timedelta(seconds=float(rule.after)), "a retry came early"
        self.attempts[attempt.attempt_id] = attempt  # stored before the INVITE
        self.ever_dialled.add(attempt.attempt_id)
        self.up[attempt.attempt_id] = attempt

    @precondition(lambda self: bool(self.up))
    @rule(
        pick=st.integers(0, 100),
        outcome=st.sampled_from(OUTCOMES),
        opted_out=st.booleans(),
        ran_flow=st.booleans(),
    )
    def finish(self, pick: int, outcome: AttemptOutcome, opted_out: bool, ran_flow: bool) -> None:
        attempt = list(self.up.values())[pick % len(self.up)]
        del self.up[attempt.attempt_id]
        disposition = "opted_out" if opted_out and outcome == "answered" else None
        ran = ran_flow or outcome == "answered"
        if disposition:
            self.stored_dnc.add(attempt.number)
        self.attempts[attempt.attempt_id] = Attempt(
            attempt.attempt_id,
            attempt.run_id,
            attempt.contact_id,
            attempt.n,
            attempt.number,
            attempt.started_at,
            outcome,
            self.now,
            disposition,
            "",
            ran,
        )
        decisions = self.core.finished(
            attempt.attempt_id, outcome, self.now, disposition=disposition, ran_flow=ran
        )
        if disposition:
            assert attempt.number in self.dnc, "an opt-out did not reach the do-not-call list"
        if self.core.contact_state(attempt.contact_id) == "done":
            self.done.add(attempt.contact_id)
        if any(isinstance(d, Complete) for d in decisions):
            self.state = "completed"

    @rule()
    def crash_and_restart(self) -> None:
        """kill -9: only what was stored survives; open attempts become "interrupted"."""
        for attempt_id, attempt in list(self.attempts.items()):
            if attempt.outcome is None:
                self.attempts[attempt_id] = Attempt(
                    attempt.attempt_id,
                    attempt.run_id,
                    attempt.contact_id,
                    attempt.n,
                    attempt.number,
                    attempt.started_at,
                    "interrupted",
                    self.now,
                )
        self.up.clear()
        run = CampaignRun("june", "news", self.state, T0)  # type: ignore[arg-type]
        records = RunRecords(run, tuple(self.contacts), tuple(self.attempts.values()), tuple(self.skips))
        self.dnc = set(self.stored_dnc)
        self.core = CampaignCore.restore(records, self.decl, self.calendar, self.dnc, self.now)
        self.done = {
            c.contact_id
            for c in self.contacts
            if self.core.contact_state(c.contact_id) in ("done", "do_not_call")
        }

    # -- invariants -------------------------------------------------------------------------
    @invariant()
    def counts_match_the_store(self) -> None:
        progress = self.core.progress(self.now)
        assert progress.attempts == len(self.attempts)
        assert progress.calling == len(self.up)
        ended = Counter(a.outcome for a in self.attempts.values() if a.outcome)
        assert dict(progress.attempt_outcomes) == dict(ended)
        assert sum(progress.contact_states.values()) == len(self.contacts)
        assert progress.state == self.state

    @invariant()
    def attempts_stay_within_the_retry_allowance(self) -> None:
        allowance = 1 + sum(rule.times for rule in self.decl.retries.values())
        per_contact = Counter(a.contact_id for a in self.attempts.values())
        assert all(n <= allowance + 1 for n in per_contact.values())  # +1: an interrupted one


def _rule(outcome: AttemptOutcome) -> str:
    return "failed" if outcome == "interrupted" else outcome


CampaignMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestCampaignCore = CampaignMachine.TestCase
