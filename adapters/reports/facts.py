"""One call's record -> the facts reports count: the call, its queue contacts, the agents'
parts in it, and the nodes it visited.

Place: the pure core, between `rows` and `figures`. The engine writes `node_entered` and
`node_left` (with the edge taken); the ACD journal (`ivr.adapters.hosting.queues`) writes
`agent_offered`, `agent_connected`, `agent_left` and `agent_call_ended`; the `enqueue` step
writes `queue` with its outcome; a `transfer` node writes `transfer`.

- A **queue contact** starts when the caller entered the `enqueue` node (the last
  `node_entered` at or before the ACD's first line about it) and ends at `agent_call_ended`
  (answered, abandoned, timeout, no_agents). The ACD writes nothing for a call it turns
  away at the door: those are the `queue` lines saying "overflow", or "no_agents" beyond
  the `agent_call_ended` lines that say so.
- An **agent part** runs from `agent_connected` to that agent's `agent_call_ended` or
  `agent_left` (else the end of the call); a consultation is a part but not a call.
- A **node visit** is a `node_entered` with its `node_left` (the edge); a call that ends
  inside a node (no `node_left`) hung up there, or failed there.
- A call is **contained** when it ended "completed" without reaching a queue or a transfer.
- **Hold**: the desk writes `agent_hold` (`on` true or false) when the agent puts the
  caller on hold or takes them back; a part's hold time runs from each `on` to the next
  `off` (else to the part's end). Talk includes it.
- A **callback**: a queue contact that ended with the outcome "callback" (the caller chose
  to be called back instead of waiting: `agent_call_ended`, or a `queue` line beyond those).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from ivr.adapters.reports.rows import CallRow, EventRow

ACD_LINES = frozenset({"agent_offered", "agent_connected", "agent_left", "agent_call_ended"})
FLOW_TRANSFERRED = "transferred"
DOOR_OUTCOMES = ("no_agents", "callback")  # a `queue` line may end a contact the ACD did not


@dataclass(slots=True)
class Contact:
    """One wait in a queue. `outcome`: answered, abandoned, timeout, no_agents, overflow,
    callback."""

    queue: str
    entered_at: datetime
    outcome: str = "open"
    answered_at: datetime | None = None
    left_at: datetime | None = None
    agent: str | None = None
    transfers: int = 0

    @property
    def wait(self) -> float:
        """Seconds waited: to the answer, else to leaving the queue."""
        until = self.answered_at or self.left_at or self.entered_at
        return max(0.0, (until - self.entered_at).total_seconds())


@dataclass(slots=True)
class Part:
    """One agent's time on a call (`kind`: queue, transfer or consult)."""

    agent: str
    queue: str
    kind: str
    connected_at: datetime
    ended_at: datetime | None = None
    how: str = "completed"
    hold: float = 0.0  # seconds the caller was on hold
    held_since: datetime | None = None

    def held(self, on: bool, at: datetime) -> None:
        if on and self.held_since is None:
            self.held_since = at
        elif not on and self.held_since is not None:
            self.hold += max(0.0, (at - self.held_since).total_seconds())
            self.held_since = None

    @property
    def talk(self) -> float:
        end = self.ended_at or self.connected_at
        return max(0.0, (end - self.connected_at).total_seconds())


@dataclass(slots=True)
class Visit:
    flow: str
    node: str
    at: datetime
    edge: str | None = None
    ending: str | None = None  # "hangup", "error" or "interrupted": the call ended here


@dataclass(slots=True)
class CallFacts:
    call: CallRow
    contacts: list[Contact] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    transfers: int = 0  # flow transfers that connected, and agents handing the caller on
    no_answers: list[tuple[str, datetime]] = field(default_factory=list)  # (agent, when)

    @property
    def contained(self) -> bool:
        return self.call.how == "completed" and not self.contacts and self.transfers == 0


def call_facts(call: CallRow, events: Sequence[EventRow]) -> CallFacts:
    """The facts of one call from its record lines (in `seq` order)."""
    facts = CallFacts(call)
    _visits(facts, events)
    _queue(facts, events)
    facts.transfers += sum(
        1 for e in events if e.kind == "transfer" and e.detail.get("connected") is not False
    )
    return facts


def _visits(facts: CallFacts, events: Sequence[EventRow]) -> None:
    open_visits: list[Visit] = []  # a stack: a subflow node stays open while its flow runs
    for event in events:
        if event.node is None:
            continue
        flow = str(event.detail.get("flow", facts.call.flow))
        if event.kind == "node_entered":
            visit = Visit(flow, event.node, event.at)
            facts.visits.append(visit)
            open_visits.append(visit)
        elif event.kind == "node_left":
            while open_visits:
                top = open_visits.pop()
                if (top.flow, top.node) == (flow, event.node):
                    edge = event.detail.get("edge")
                    top.edge = str(edge) if edge is not None else None
                    break
    ending = {"caller_hangup": "hangup", "failed": "error", "interrupted": "interrupted"}.get(
        facts.call.how or "interrupted"
    )
    if open_visits and ending is not None:
        open_visits[-1].ending = ending  # the innermost node the call was in


def _queue(facts: CallFacts, events: Sequence[EventRow]) -> None:
    ordered = sorted(events, key=lambda e: (e.at, e.seq))
    entered = [e.at for e in events if e.kind == "node_entered"]
    contact: Contact | None = None
    parts: dict[str, Part] = {}
    finished: dict[tuple[str, str], int] = {}  # (queue, outcome) the ACD ended contacts with
    refused: dict[tuple[str, str], list[datetime]] = {}  # `queue` lines: no_agents, callback
    for event in ordered:
        detail = event.detail
        queue = str(detail.get("queue", ""))
        agent = str(detail.get("agent", ""))
        if event.kind == "queue":
            outcome = str(detail.get("outcome", ""))
            if outcome == "overflow":
                facts.contacts.append(Contact(queue, event.at, "overflow", left_at=event.at))
            elif outcome in DOOR_OUTCOMES:
                refused.setdefault((queue, outcome), []).append(event.at)
            continue
        if event.kind == "agent_hold":
            if (held := parts.get(agent)) is not None:
                held.held(detail.get("on") is True, event.at)
            continue
        if event.kind not in ACD_LINES:
            continue
        if contact is None and detail.get("kind", "queue") == "queue":
            start = max((at for at in entered if at <= event.at), default=event.at)
            contact = Contact(queue, start)
            facts.contacts.append(contact)
        if event.kind == "agent_connected":
            kind = str(detail.get("kind", "queue"))
            parts[agent] = Part(agent, queue, kind, event.at)
            facts.parts.append(parts[agent])
            if contact is not None and contact.answered_at is None and kind == "queue":
                contact.answered_at, contact.agent = event.at, agent
        elif event.kind == "agent_left":
            how = str(detail.get("outcome", ""))
            if how in ("no_answer", "busy", "failed"):
                facts.no_answers.append((agent, event.at))
            _end_part(parts.pop(agent, None), event.at, how)
            if how == FLOW_TRANSFERRED:
                facts.transfers += 1
                if contact is not None:
                    contact.transfers += 1
        elif event.kind == "agent_call_ended":
            outcome = str(detail.get("outcome", ""))
            if detail.get("agent"):
                _end_part(parts.pop(agent, None), event.at, "completed")
            if outcome in DOOR_OUTCOMES:
                finished[(queue, outcome)] = finished.get((queue, outcome), 0) + 1
            if contact is not None:
                contact.outcome = "answered" if outcome == "completed" else outcome
                contact.left_at = event.at
                contact = None
    for (queue, outcome), times in refused.items():  # beyond the ACD's endings: at the door
        for at in times[: max(0, len(times) - finished.get((queue, outcome), 0))]:
            facts.contacts.append(Contact(queue, at, outcome, left_at=at))
    for part in parts.values():  # still talking when the record ends
        _end_part(part, facts.call.ended_at or part.connected_at, "interrupted")


def _end_part(part: Part | None, at: datetime, how: str) -> None:
    if part is not None and part.ended_at is None:
        part.held(False, at)
        part.ended_at, part.how = at, how
