"""The campaign core: a synchronous, deterministic model of one campaign run.

No trio, no clock, no I/O: every method takes `now` (an aware datetime) and returns the
decisions its driver must make durable and carry out (`ivr.runtime.campaigns.runner`
drives it for real calls; the hypothesis state machine in the tests drives it directly).

- `next_dials(now, free)`: the attempts to start now, within the run's state (only a
  running run dials), each contact's calling window in its own time zone, the pacing
  (most concurrent calls, most new calls a second, the `free` channels the trunk has after
  inbound calls) and the do-not-call list (a listed number is skipped for good). The driver
  stores each attempt *before* it dials, so a restart never repeats one.
- `finished(attempt_id, outcome, ...)`: an attempt ended; the contact is done, or waits for
  its retry (`retries:` per outcome: after how long, how many times; an attempt found
  `interrupted` at start-up is retried by the `failed` rule).
- `start`, `pause`, `resume`, `stop`: the run's state (the driver stores it first).
- `add(contacts, now)`: contacts added while the run exists (a standing run fed by events),
  due at once; a contact id the run has is ignored, so a retried add calls nobody twice; a
  `completed` run is `running` again.

`CampaignCore.restore` rebuilds a core from what the store holds (a contact's state is a
fold over its attempts), so a kill -9 loses nothing that was promised.
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ivr.flowlang.ir import OPTED_OUT, CalendarDecl, CampaignDecl
from ivr.runtime.campaigns.model import (
    Attempt,
    AttemptOutcome,
    CampaignRun,
    Contact,
    ContactState,
    Progress,
    RunRecords,
    RunState,
    Skip,
    retry_rule_for,
)
from ivr.runtime.campaigns.pacing import TokenBucket
from ivr.runtime.campaigns.window import Window

RATE_WINDOW = 60.0  # seconds of history behind `Progress.per_minute`
YIELDED_RETRY = 60.0  # seconds before a yielded attempt is tried again, without a `failed` rule


def reached(attempt: Attempt) -> bool:
    """An attempt reached its callee: a person answered, or a machine took the message."""
    return attempt.outcome == "answered" or (attempt.outcome == "machine" and attempt.ran_flow)


class CampaignStateError(Exception):
    """The run cannot do that in its state (start a stopped run, resume a completed one).
    The message says the state and what it allows."""


@dataclass(frozen=True)
class Dial:
    """Store `attempt`, then call `contact` (the number is not on the do-not-call list)."""

    attempt: Attempt
    contact: Contact


@dataclass(frozen=True)
class SkipContact:
    """Store that the contact is left out: its number is on the do-not-call list."""

    skip: Skip


@dataclass(frozen=True)
class Complete:
    """Store that the run is complete: every contact is done or left out."""

    run_id: str


Decision = Dial | SkipContact | Complete

_TRANSITIONS: Mapping[str, tuple[frozenset[RunState], RunState]] = {
    "start": (frozenset({"created"}), "running"),
    "pause": (frozenset({"running"}), "paused"),
    "resume": (frozenset({"paused"}), "running"),
    "stop": (frozenset({"created", "running", "paused"}), "stopped"),
}


@dataclass
class _Track:
    """One contact as the core follows it."""

    contact: Contact
    zone: str
    attempts: list[Attempt] = field(default_factory=list)
    state: ContactState = "pending"
    due: datetime | None = None
    final: AttemptOutcome | None = None


class CampaignCore:
    def __init__(
        self,
        run: CampaignRun,
        decl: CampaignDecl,
        calendar: CalendarDecl | None,
        contacts: Iterable[Contact],
        do_not_call: set[str],
        now: datetime,
    ) -> None:
        self.run = run
        self.decl = decl
        self.state: RunState = run.state
        self.do_not_call = do_not_call  # shared by every run: an opt-out counts everywhere
        self._default_zone = decl.timezone or (calendar.timezone if calendar else "UTC")
        self._calendar = calendar
        self._windows: dict[str, Window] = {}
        self._tracks: dict[str, _Track] = {}
        self._queues: dict[str, list[tuple[datetime, int, str]]] = {}
        self._seq = itertools.count()
        self._bucket = TokenBucket(float(decl.calls_per_second), now.timestamp())
        self._open: dict[str, Attempt] = {}  # attempts up now, by id
        self._started: deque[float] = deque()  # start times of recent attempts
        for contact in contacts:
            self._tracks[contact.contact_id] = _Track(contact, contact.timezone or self._default_zone)
        for track in self._tracks.values():
            self._schedule(track, run.created_at)

    # -- rebuilding -------------------------------------------------------------------------
    @classmethod
    def restore(
        cls,
        records: RunRecords,
        decl: CampaignDecl,
        calendar: CalendarDecl | None,
        do_not_call: set[str],
        now: datetime,
    ) -> CampaignCore:
        """The core as it stood when `records` were stored (attempts left open count as up)."""
        core = cls(records.run, decl, calendar, records.contacts, do_not_call, now)
        for skip in records.skips:
            track = core._tracks.get(skip.contact_id)
            if track is not None:
                track.state, track.due = "do_not_call", None
        for attempt in sorted(records.attempts, key=lambda a: (a.contact_id, a.n)):
            track = core._tracks.get(attempt.contact_id)
            if track is None or track.state == "do_not_call":
                continue
            track.attempts.append(attempt)
            if attempt.outcome is None:
                track.state, track.due = "calling", None
                core._open[attempt.attempt_id] = attempt
            else:
                core._settle(track, attempt, attempt.ended_at or attempt.started_at)
        if core.state == "completed" and not core._all_done():  # a contact added as it completed
            core.state = "running"
        return core

    # -- contacts added while it runs ------------------------------------------------------
    def add(self, contacts: Iterable[Contact], now: datetime) -> list[str]:
        """Contacts added to the run (already stored), due now; a contact id the run has
        already is left as it is. The ids taken; a `completed` run is `running` again."""
        if self.state == "stopped":
            raise CampaignStateError(f"run {self.run.run_id} is stopped: it takes no more contacts")
        taken: list[str] = []
        for contact in contacts:
            if contact.contact_id in self._tracks:
                continue
            track = self._tracks[contact.contact_id] = _Track(contact, contact.timezone or self._default_zone)
            self._schedule(track, now)
            taken.append(contact.contact_id)
        if taken and self.state == "completed":
            self.state = "running"
        return taken

    def has_contact(self, contact_id: str) -> bool:
        return contact_id in self._tracks

    # -- the run's state --------------------------------------------------------------------
    def change(self, action: str) -> RunState:
        """`start`, `pause`, `resume` or `stop`: the new state (store it, then `apply`)."""
        allowed, target = _TRANSITIONS[action]
        if self.state not in allowed:
            can = [name for name, (states, _) in _TRANSITIONS.items() if self.state in states]
            hint = f"it can {', '.join(can)}" if can else "nothing more can be done with it"
            raise CampaignStateError(f"run {self.run.run_id} is {self.state}: it cannot {action} ({hint})")
        return target

    def apply(self, state: RunState) -> None:
        self.state = state

    # -- dialling ---------------------------------------------------------------------------
    def next_dials(self, now: datetime, free: int) -> list[Decision]:
        """What to do now, given `free` channels on the trunk."""
        if self.state != "running":
            return []
        decisions: list[Decision] = []
        budget = min(free, self.decl.max_concurrent - len(self._open))
        while budget > 0:
            found = self._next_due(now)
            if found is None:
                break
            zone, track = found
            if track.contact.number in self.do_not_call:  # left out: takes no channel, no token
                heapq.heappop(self._queues[zone])
                track.state, track.due = "do_not_call", None
                skip = Skip(self.run.run_id, track.contact.contact_id, "do_not_call", now)
                decisions.append(SkipContact(skip))
                continue
            if self._bucket.available(now.timestamp()) < 1:
                break
            heapq.heappop(self._queues[zone])
            decisions.append(self._dial(track, now))
            budget -= 1
        if self._all_done():
            self.state = "completed"
            decisions.append(Complete(self.run.run_id))
        return decisions

    def _dial(self, track: _Track, now: datetime) -> Dial:
        n = len(track.attempts) + 1
        contact = track.contact
        attempt = Attempt(
            Attempt.make_id(self.run.run_id, contact.contact_id, n),
            self.run.run_id,
            contact.contact_id,
            n,
            contact.number,
            now,
        )
        track.attempts.append(attempt)
        track.state, track.due = "calling", None
        self._open[attempt.attempt_id] = attempt
        self._bucket.take(now.timestamp())
        self._started.append(now.timestamp())
        return Dial(attempt, contact)

    def _next_due(self, now: datetime) -> tuple[str, _Track] | None:
        """The contact due earliest (and its zone) among the time zones whose window is open
        now; it stays at the head of its queue until the caller takes it."""
        best: tuple[datetime, int, str] | None = None
        best_zone = ""
        for zone, queue in self._queues.items():
            self._drop_stale(queue)
            if not queue or queue[0][0] > now or (best is not None and queue[0] >= best):
                continue
            if self._window(zone).is_open(now):
                best, best_zone = queue[0], zone
        return None if best is None else (best_zone, self._tracks[best[2]])

    def _drop_stale(self, queue: list[tuple[datetime, int, str]]) -> None:
        while queue:
            due, _, contact_id = queue[0]
            track = self._tracks[contact_id]
            if track.state in ("pending", "retrying") and track.due == due:
                return
            heapq.heappop(queue)

    def _schedule(self, track: _Track, due: datetime) -> None:
        track.due = due
        heapq.heappush(
            self._queues.setdefault(track.zone, []), (due, next(self._seq), track.contact.contact_id)
        )

    def _window(self, zone: str) -> Window:
        window = self._windows.get(zone)
        if window is None:
            window = self._windows[zone] = Window(self._calendar, zone)
        return window

    # -- outcomes ---------------------------------------------------------------------------
    def finished(
        self,
        attempt_id: str,
        outcome: AttemptOutcome,
        now: datetime,
        *,
        disposition: str | None = None,
        ran_flow: bool = False,
        detail: str = "",
    ) -> list[Decision]:
        """An attempt ended (already stored). The contact is done or waits for a retry; an
        opt-out puts the number on the (shared) do-not-call list at once."""
        attempt = self._open.pop(attempt_id, None)
        if attempt is None:
            raise KeyError(f"attempt {attempt_id!r} is not in progress")
        track = self._tracks[attempt.contact_id]
        ended = Attempt(
            attempt.attempt_id,
            attempt.run_id,
            attempt.contact_id,
            attempt.n,
            attempt.number,
            attempt.started_at,
            outcome,
            now,
            disposition,
            detail,
            ran_flow,
        )
        track.attempts[-1] = ended
        if disposition == OPTED_OUT:
            self.do_not_call.add(attempt.number)
        self._settle(track, ended, now)
        if self._all_done() and self.state in ("running", "paused"):
            self.state = "completed"
            return [Complete(self.run.run_id)]
        return []

    def _settle(self, track: _Track, attempt: Attempt, now: datetime) -> None:
        """After an ended attempt: done, or a retry scheduled by its outcome's rule."""
        assert attempt.outcome is not None
        outcome = attempt.outcome
        rule_name = retry_rule_for(outcome)
        rule = self.decl.retries.get(rule_name) if rule_name else None
        if outcome == "yielded":  # our doing, not the callee's: always again, after a pause
            track.state, track.final = "retrying", None
            after = rule.after if rule is not None else YIELDED_RETRY
            self._schedule(track, now + timedelta(seconds=float(after)))
            return
        if self._is_last(track.attempts, attempt):
            track.state, track.due, track.final = "done", None, outcome
            return
        assert rule is not None
        track.state, track.final = "retrying", None
        self._schedule(track, now + timedelta(seconds=float(rule.after)))

    def _is_last(self, attempts: list[Attempt], ended: Attempt) -> bool:
        """Whether `ended` (the last of `attempts`) leaves its contact done."""
        assert ended.outcome is not None
        if ended.outcome == "yielded":
            return False
        rule_name = retry_rule_for(ended.outcome)
        rule = self.decl.retries.get(rule_name) if rule_name else None
        tries = sum(
            1
            for a in attempts
            if a.outcome and a.outcome != "yielded" and retry_rule_for(a.outcome) == rule_name
        )
        return reached(ended) or rule is None or tries > rule.times

    def ends_unreached(self, attempt_id: str, outcome: AttemptOutcome, *, ran_flow: bool = False) -> bool:
        """Whether the open attempt, ending so, would leave its contact done without having
        reached anyone (its last try): the moment for a fallback such as an SMS."""
        attempt = self._open.get(attempt_id)
        if attempt is None:
            return False
        ended = replace(attempt, outcome=outcome, ran_flow=ran_flow)
        if reached(ended):
            return False
        attempts = [*self._tracks[attempt.contact_id].attempts[:-1], ended]
        return self._is_last(attempts, ended)

    def _all_done(self) -> bool:
        return not self._open and all(t.state in ("done", "do_not_call") for t in self._tracks.values())

    # -- questions --------------------------------------------------------------------------
    @property
    def calling(self) -> int:
        return len(self._open)

    def open_attempts(self) -> list[Attempt]:
        return list(self._open.values())

    def contact(self, contact_id: str) -> Contact:
        return self._tracks[contact_id].contact

    def contact_state(self, contact_id: str) -> ContactState:
        return self._tracks[contact_id].state

    def attempts_of(self, contact_id: str) -> list[Attempt]:
        return list(self._tracks[contact_id].attempts)

    def next_wake(self, now: datetime) -> datetime | None:
        """When `next_dials` may have something to do next, channels allowing (None: only
        when an attempt ends or the state changes)."""
        if self.state != "running":
            return None
        soonest: datetime | None = None
        for zone, queue in self._queues.items():
            self._drop_stale(queue)
            if not queue:
                continue
            due = max(queue[0][0], now)
            at = self._window(zone).next_open(due)
            if at is not None and (soonest is None or at < soonest):
                soonest = at
        if soonest is None:
            return None
        token = datetime.fromtimestamp(self._bucket.next_at(now.timestamp()), now.tzinfo)
        return max(soonest, token)

    def progress(self, now: datetime) -> Progress:
        states: Counter[ContactState] = Counter()
        finals: Counter[AttemptOutcome] = Counter()
        outcomes: Counter[AttemptOutcome] = Counter()
        dispositions: Counter[str] = Counter()
        attempts = 0
        for track in self._tracks.values():
            states[track.state] += 1
            if track.final is not None:
                finals[track.final] += 1
            for attempt in track.attempts:
                attempts += 1
                if attempt.outcome is not None:
                    outcomes[attempt.outcome] += 1
                if attempt.disposition:
                    dispositions[attempt.disposition] += 1
        horizon = now.timestamp() - RATE_WINDOW
        while self._started and self._started[0] < horizon:
            self._started.popleft()
        per_minute = len(self._started) * 60.0 / RATE_WINDOW
        due = states["pending"] + states["retrying"]
        eta = (due / per_minute * 60.0 if per_minute else None) if due else 0.0
        return Progress(
            self.run.run_id,
            self.run.campaign,
            self.state,
            len(self._tracks),
            dict(states),
            dict(finals),
            attempts,
            dict(outcomes),
            dict(dispositions),
            len(self._open),
            per_minute,
            eta,
        )
