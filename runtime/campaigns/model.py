"""The values of outbound campaigns: runs, contacts, attempts, progress. No behaviour.

Place: shared by the campaign core (`core.py`, decisions), its driver (`runner.py`) and the
`CampaignStore` port (`ivr.runtime.ports`), whose adapters store exactly these.

A campaign *definition* is the service file's `CampaignDecl`; a *run* is one execution of
it over one contact list (`ivr campaign create`), with its own state. Every call placed is
an *attempt*, stored (with a unique id) before its INVITE goes out and again with its
outcome; a contact's state is a fold over its attempts.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from ivr.flowlang.ir import RetryOutcome

RunState = Literal["created", "running", "paused", "stopped", "completed"]
"""A run is `created` (contacts loaded, nothing dialled), `running`, `paused` (no new call
is placed; calls up go on), `stopped` (for good, by an operator) or `completed` (every
contact is done)."""

AttemptOutcome = Literal["answered", "machine", "busy", "no_answer", "failed", "yielded", "interrupted"]
"""How an attempt ended: the dialer's `DialOutcome`s (`yielded`: hung up by us to give its
channel to an inbound caller; always retried after the `failed` rule's delay and never
counted against a retry budget), or `interrupted` (the process stopped while it was up:
found open at start-up; retried by the `failed` rule)."""

ContactState = Literal["pending", "calling", "retrying", "done", "do_not_call"]
"""Where a contact stands: not yet called; a call up; waiting for its next attempt; no more
attempts; left out because its number is on the do-not-call list."""

SkipReason = Literal["do_not_call"]

ATTEMPT_OUTCOMES: tuple[AttemptOutcome, ...] = (
    "answered",
    "machine",
    "busy",
    "no_answer",
    "failed",
    "yielded",
    "interrupted",
)
_SAFE = re.compile(r"^[A-Za-z0-9_.-]{1,80}$")


def is_safe_id(text: str) -> bool:
    """Run and contact ids go into attempt ids, file names and URLs: letters, digits, `_.-`."""
    return bool(_SAFE.match(text))


_KEY = re.compile(r"^[A-Za-z0-9_.]{1,64}$")


def is_contact_key(text: str) -> bool:
    """A contact added to a running run is named by its caller's key: letters, digits, `_`
    and `.` (no `-`, so `<run>-<key>-<n>` stays one attempt's id)."""
    return bool(_KEY.match(text))


def retry_rule_for(outcome: AttemptOutcome) -> RetryOutcome | None:
    """Which `retries:` entry applies after an attempt that ended so (None: no retry)."""
    if outcome in ("interrupted", "yielded"):
        return "failed"
    if outcome in ("busy", "no_answer", "failed", "machine"):
        return outcome
    return None


@dataclass(frozen=True)
class Contact:
    """One person to call: a stable id within the run, the number, the fields the flow reads
    (`contact.<field>`), the callee's time zone (None: the campaign's)."""

    contact_id: str
    number: str
    fields: Mapping[str, object] = field(default_factory=dict)
    timezone: str | None = None


@dataclass(frozen=True)
class CampaignRun:
    """One run of a campaign definition (`campaign`, a name in the service file)."""

    run_id: str
    campaign: str
    state: RunState
    created_at: datetime
    contacts: int = 0


@dataclass(frozen=True)
class Attempt:
    """One call placed (or about to be): `attempt_id` is `<run>-<contact>-<n>`, unique."""

    attempt_id: str
    run_id: str
    contact_id: str
    n: int
    number: str
    started_at: datetime
    outcome: AttemptOutcome | None = None
    ended_at: datetime | None = None
    disposition: str | None = None
    detail: str = ""
    ran_flow: bool = False

    @staticmethod
    def make_id(run_id: str, contact_id: str, n: int) -> str:
        return f"{run_id}-{contact_id}-{n}"


@dataclass(frozen=True)
class Skip:
    """A contact left out for good (its number is on the do-not-call list)."""

    run_id: str
    contact_id: str
    reason: SkipReason
    at: datetime


@dataclass(frozen=True)
class RunRecords:
    """Everything stored about a run: what the core is rebuilt from after a restart."""

    run: CampaignRun
    contacts: tuple[Contact, ...]
    attempts: tuple[Attempt, ...]
    skips: tuple[Skip, ...]


@dataclass(frozen=True)
class Progress:
    """A run's progress: contacts per state, attempts per outcome, dispositions, the pace
    of the last minute (attempts started per minute) and the time it would take at that
    pace to place the attempts still due (None when nothing is moving)."""

    run_id: str
    campaign: str
    state: RunState
    contacts: int
    contact_states: Mapping[ContactState, int]
    final_outcomes: Mapping[AttemptOutcome, int]
    attempts: int
    attempt_outcomes: Mapping[AttemptOutcome, int]
    dispositions: Mapping[str, int]
    calling: int
    per_minute: float
    eta_seconds: float | None

    def as_json(self) -> dict[str, object]:
        return {
            "run": self.run_id,
            "campaign": self.campaign,
            "state": self.state,
            "contacts": self.contacts,
            "contact_states": dict(self.contact_states),
            "final_outcomes": dict(self.final_outcomes),
            "attempts": self.attempts,
            "attempt_outcomes": dict(self.attempt_outcomes),
            "dispositions": dict(self.dispositions),
            "calling": self.calling,
            "per_minute": round(self.per_minute, 2),
            "eta_seconds": None if self.eta_seconds is None else round(self.eta_seconds),
        }
