"""In-memory doubles for outbound calling: a `CampaignStore` and a scripted `Dialer`.

Shipped as real code (like the other doubles here): the campaign runner's tests, `ivr
simulate`-style tools and the hypothesis model run on them, and the store passes the same
contract as the SQLite store (`campaign_store_contract`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import trio

from ivr.runtime.campaigns.model import (
    Attempt,
    AttemptOutcome,
    CampaignRun,
    Contact,
    RunRecords,
    RunState,
    Skip,
)
from ivr.runtime.ports import (
    Answered,
    AnsweredBy,
    DialOutcome,
    DialRequest,
    DialResult,
    StoreConflict,
)
from ivr.runtime.testing.leg import MemoryCallLeg


class MemoryCampaignStore:
    """A `CampaignStore` in memory (durable only for the life of the object)."""

    def __init__(self) -> None:
        self._runs: dict[str, CampaignRun] = {}
        self._contacts: dict[str, tuple[Contact, ...]] = {}
        self._attempts: dict[str, Attempt] = {}
        self._skips: dict[str, list[Skip]] = {}
        self._dnc: dict[str, tuple[datetime, str]] = {}

    async def create_run(self, run: CampaignRun, contacts: Sequence[Contact]) -> None:
        await trio.lowlevel.checkpoint()
        if run.run_id in self._runs:
            raise StoreConflict(f"run {run.run_id} exists already")
        self._runs[run.run_id] = replace(run, contacts=len(contacts))
        self._contacts[run.run_id] = tuple(contacts)

    async def add_contacts(self, run_id: str, contacts: Sequence[Contact], at: datetime) -> list[str]:
        await trio.lowlevel.checkpoint()
        run = self._runs.get(run_id)
        if run is None or run.state == "stopped":
            raise StoreConflict(f"there is no run {run_id}" if run is None else f"run {run_id} is stopped")
        known = {c.contact_id for c in self._contacts[run_id]}
        added: list[Contact] = []
        for contact in contacts:
            if contact.contact_id not in known:
                known.add(contact.contact_id)
                added.append(contact)
        if added:
            self._contacts[run_id] += tuple(added)
            state: RunState = "running" if run.state == "completed" else run.state
            self._runs[run_id] = replace(run, state=state, contacts=run.contacts + len(added))
        return [c.contact_id for c in added]

    async def runs(self) -> list[CampaignRun]:
        await trio.lowlevel.checkpoint()
        return sorted(self._runs.values(), key=lambda r: (r.created_at, r.run_id))

    async def load(self, run_id: str) -> RunRecords | None:
        await trio.lowlevel.checkpoint()
        run = self._runs.get(run_id)
        if run is None:
            return None
        attempts = tuple(sorted((a for a in self._attempts.values() if a.run_id == run_id), key=_order))
        return RunRecords(run, self._contacts[run_id], attempts, tuple(self._skips.get(run_id, ())))

    async def set_state(self, run_id: str, state: RunState, at: datetime) -> None:
        await trio.lowlevel.checkpoint()
        if run_id not in self._runs:
            raise StoreConflict(f"there is no run {run_id}")
        self._runs[run_id] = replace(self._runs[run_id], state=state)

    async def begin_attempt(self, attempt: Attempt) -> None:
        await trio.lowlevel.checkpoint()
        if attempt.attempt_id in self._attempts:
            raise StoreConflict(f"attempt {attempt.attempt_id} exists already")
        if attempt.run_id not in self._runs:
            raise StoreConflict(f"there is no run {attempt.run_id}")
        self._attempts[attempt.attempt_id] = attempt

    async def finish_attempt(
        self,
        attempt_id: str,
        outcome: AttemptOutcome,
        at: datetime,
        *,
        disposition: str | None = None,
        ran_flow: bool = False,
        detail: str = "",
    ) -> None:
        await trio.lowlevel.checkpoint()
        attempt = self._attempts.get(attempt_id)
        if attempt is None or attempt.outcome is not None:
            raise StoreConflict(f"attempt {attempt_id} is not open")
        self._attempts[attempt_id] = replace(
            attempt, outcome=outcome, ended_at=at, disposition=disposition, ran_flow=ran_flow, detail=detail
        )

    async def skip(self, skip: Skip) -> None:
        await trio.lowlevel.checkpoint()
        self._skips.setdefault(skip.run_id, []).append(skip)

    async def recover(self, at: datetime) -> list[str]:
        await trio.lowlevel.checkpoint()
        open_ids = sorted(a.attempt_id for a in self._attempts.values() if a.outcome is None)
        for attempt_id in open_ids:
            self._attempts[attempt_id] = replace(
                self._attempts[attempt_id],
                outcome="interrupted",
                ended_at=at,
                detail="found open at start-up",
            )
        return open_ids

    async def add_do_not_call(self, number: str, at: datetime, *, source: str) -> None:
        await trio.lowlevel.checkpoint()
        self._dnc.setdefault(number, (at, source))

    async def do_not_call(self) -> set[str]:
        await trio.lowlevel.checkpoint()
        return set(self._dnc)


def _order(attempt: Attempt) -> tuple[datetime, str, int]:
    return (attempt.started_at, attempt.contact_id, attempt.n)


@dataclass(frozen=True)
class Answer:
    """How a scripted callee answers one attempt: the outcome, after how long, and (for a
    person or a machine that gets the flow) the keys they press as the flow plays."""

    outcome: DialOutcome = "answered"
    after: float = 1.0
    keys: str = ""
    status: int = 0


@dataclass
class ScriptedDialer:
    """A `Dialer` whose callees answer per script: `script(request) -> Answer` (default: a
    person answers after a second). Answered calls run the flow on a `MemoryCallLeg` fed
    with the answer's keys. `channels` is what `free_channels` offers (less the calls up)."""

    script: Callable[[DialRequest], Answer] = field(default=lambda request: Answer())
    channels: int = 10
    placed: list[DialRequest] = field(default_factory=list)
    up: int = 0
    peak: int = 0
    legs: dict[str, MemoryCallLeg] = field(default_factory=dict)
    caller_id: str = "95500"

    def free_channels(self, trunk: str) -> int:
        return max(0, self.channels - self.up)

    async def call(self, request: DialRequest, answered: Answered) -> DialResult:
        self.placed.append(request)
        self.up += 1
        self.peak = max(self.peak, self.up)
        try:
            answer = self.script(request)
            await trio.sleep(answer.after)
            if answer.outcome in ("busy", "no_answer", "failed"):
                status = answer.status or {"busy": 486, "no_answer": 0, "failed": 503}[answer.outcome]
                return DialResult(answer.outcome, status)
            by: AnsweredBy = "machine" if answer.outcome == "machine" else "person"
            if by == "machine" and not request.leave_message:
                return DialResult("machine", 200, "scripted machine")
            leg = MemoryCallLeg(call_id=request.attempt_id, caller=self.caller_id, dialed=request.number)
            leg.press(answer.keys)  # type-ahead: the flow's first menu reads them
            self.legs[request.attempt_id] = leg
            await answered(leg, by)
            return DialResult(answer.outcome, 200, "", ran_flow=True)
        finally:
            self.up -= 1


def dialled_numbers(dialer: ScriptedDialer) -> Mapping[str, int]:
    """How many calls each number got."""
    counts: dict[str, int] = {}
    for request in dialer.placed:
        counts[request.number] = counts.get(request.number, 0) + 1
    return counts
