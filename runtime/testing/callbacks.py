"""`MemoryCallbackJournal`: the `CallbackJournal` port in memory, for tests of the ACD's
kept places. The SQLite journal (`ivr.adapters.storage.callbacks`) passes the same contract
(`tests/acd_callbacks/test_callback_journal.py`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from ivr.runtime.ports import CallbackStep, KeptPlace

CLOSING: frozenset[CallbackStep] = frozenset({"connected", "hung_up", "gave_up"})


@dataclass
class MemoryCallbackJournal:
    places: dict[str, KeptPlace] = field(default_factory=dict)
    steps: list[tuple[str, CallbackStep, datetime, str]] = field(default_factory=list)
    closed: set[str] = field(default_factory=set)

    async def keep(self, place: KeptPlace) -> None:
        self.places[place.call_id] = place

    async def step(self, call_id: str, step: CallbackStep, at: datetime, detail: str = "") -> None:
        self.steps.append((call_id, step, at, detail))
        place = self.places.get(call_id)
        if step == "dialled" and place is not None:
            self.places[call_id] = replace(place, attempts=place.attempts + 1)
        if step in CLOSING:
            self.closed.add(call_id)

    async def pending(self) -> list[KeptPlace]:
        open_places = (p for p in self.places.values() if p.call_id not in self.closed)
        return sorted(open_places, key=lambda p: p.accepted_at)

    def steps_of(self, call_id: str) -> list[CallbackStep]:
        return [step for (call, step, _, _) in self.steps if call == call_id]
