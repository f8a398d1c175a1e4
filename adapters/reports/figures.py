"""Facts -> figures: per interval and per tenant, queue, flow, agent or flow node.

Place: the pure core under `ivr report` and `ivr draw --stats` (no I/O: rows in, rows
out), tested against figures worked out by hand. Each fact counts in the interval of its
own moment: a call when it started, a queue contact when the caller entered the queue, an
agent's call when it was answered, a node visit when the node was entered; times spent
(talk, wrap-up, ready, logged in) are cut at interval boundaries. Facts outside
[start, end) are left out.

Definitions (seconds; averages over the calls they name):
- service level: answered within the queue's threshold / answered, as the ACD counts it;
- ASA (average speed of answer): the wait of answered contacts; abandon wait: of abandoned;
- talk: agent connected to that agent's end; wrap-up: the agent's `wrap_up` state that
  follows the call (from the agents' journal); AHT = talk + wrap-up, per answered call;
- occupancy: (talk + wrap-up) / (talk + wrap-up + ready time);
- containment: calls that ended "completed" without a queue or a transfer / calls;
- hold: the caller on hold by the agent (the desk's `agent_hold` lines), part of talk;
- callbacks: queue contacts that ended with the caller asking to be called back;
- campaign: outbound attempts by the interval they started in and their outcome (`other`:
  yielded to an inbound call or interrupted; `in_progress`: no outcome yet); `opted_out`:
  contacts skipped because their number is on the do-not-call list.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ivr.adapters.reports.facts import CallFacts, Contact, Part, call_facts
from ivr.adapters.reports.rows import By, EventRow, Inputs, ReportQuery, bucket, split

BY: tuple[By, ...] = ("tenant", "queue", "flow", "agent", "node", "campaign", "channel")
OUTCOMES = ("answered", "machine", "busy", "no_answer", "failed")  # the dialer's; others are `other`
WRAP_UP_SLACK = timedelta(seconds=5)  # a wrap-up state this close after a call belongs to it

COLUMNS: dict[By, tuple[str, ...]] = {
    "tenant": (
        "calls", "contained", "containment_pct", "hangups_in_ivr", "failed", "transfers",
        "offered", "answered", "abandoned", "service_level_pct", "asa", "callbacks",
    ),
    "flow": (
        "calls", "contained", "containment_pct", "hangups_in_ivr", "failed", "transfers",
        "offered", "answered", "abandoned", "service_level_pct", "asa", "callbacks",
    ),
    "queue": (
        "offered", "answered", "abandoned", "abandon_wait_avg", "timeout", "no_agents", "overflow",
        "answered_in_sl", "service_level_pct", "asa", "talk_avg", "hold_avg", "wrap_up_avg", "aht",
        "transfers", "callbacks",
    ),
    "agent": (
        "calls", "talk", "hold", "wrap_up", "aht", "logged_in", "ready", "not_ready", "on_call",
        "occupancy_pct", "no_answers", "transfers",
    ),
    "node": ("visits", "exits", "hangups", "errors"),
    "campaign": (
        "attempts", "answered", "machine", "busy", "no_answer", "failed", "other", "in_progress",
        "answered_pct", "opted_out",
    ),
    "channel": (
        "calls", "contained", "containment_pct", "hangups_in_ivr", "failed", "transfers",
        "offered", "answered", "abandoned", "service_level_pct", "asa", "callbacks",
    ),
}  # fmt: skip


@dataclass
class ReportRow:
    """One line of a report: an interval, what it is about, its figures."""

    interval: datetime
    key: str
    figures: dict[str, object]


@dataclass
class Report:
    query: ReportQuery
    columns: tuple[str, ...]
    rows: list[ReportRow] = field(default_factory=list)


@dataclass
class _Tally:
    calls: int = 0
    contained: int = 0
    hangups_in_ivr: int = 0
    failed: int = 0
    transfers: int = 0
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    abandon_wait: float = 0.0
    timeout: int = 0
    no_agents: int = 0
    overflow: int = 0
    answered_in_sl: int = 0
    wait_answered: float = 0.0
    talk: float = 0.0
    hold: float = 0.0
    callbacks: int = 0
    wrap_up: float = 0.0
    talked_calls: int = 0
    agent_calls: int = 0
    states: dict[str, float] = field(default_factory=dict)
    logged_in: float = 0.0
    no_answers: int = 0
    visits: int = 0
    exits: dict[str, int] = field(default_factory=dict)
    hangups: int = 0
    errors: int = 0
    attempts: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    opted_out: int = 0


def compute(inputs: Inputs, query: ReportQuery) -> Report:
    """The report `query` asks for, from `inputs` (rows of the range and a margin around it)."""
    counting = _Counting(
        query, ZoneInfo(query.zone), _state_spans(inputs, "wrap_up"), _agent_names(inputs, query)
    )
    if query.by == "campaign":
        counting.campaigns(inputs)
        return Report(query, COLUMNS["campaign"], _rows(query.by, counting))
    count = {
        "tenant": counting.calls,
        "flow": counting.calls,
        "queue": counting.queue,
        "agent": counting.agent,
        "node": counting.nodes,
        "channel": counting.calls,
    }[query.by]
    for facts in all_facts(inputs, query):
        count(facts)
    if query.by == "agent":
        counting.agent_time(inputs)
    return Report(query, COLUMNS[query.by], _rows(query.by, counting))


def _rows(by: By, counting: _Counting) -> list[ReportRow]:
    return [
        ReportRow(interval, key, _figures(by, tally))
        for (interval, key), tally in sorted(counting.tallies.items(), key=lambda item: item[0])
    ]


def _agent_names(inputs: Inputs, query: ReportQuery) -> Callable[[str, str], str]:
    """An agent's row key: its id, or `tenant/id` when the report spans several tenants
    (two tenants may both have an agent 8001)."""
    tenants = (
        {c.tenant for c in inputs.calls}
        | {s.tenant for s in inputs.sessions}
        | {s.tenant for s in inputs.states}
        | {a.tenant for a in inputs.attempts}
    )
    if query.tenant is not None or len(tenants) <= 1:
        return lambda tenant, agent: agent
    return lambda tenant, agent: f"{tenant}/{agent}"


def all_facts(inputs: Inputs, query: ReportQuery) -> Iterable[CallFacts]:
    by_call: dict[str, list[EventRow]] = defaultdict(list)
    for event in inputs.events:
        by_call[event.call_id].append(event)
    for call in inputs.calls:
        if query.tenant is None or call.tenant == query.tenant:
            yield call_facts(call, by_call.get(call.call_id, []))


WrapUps = Mapping[tuple[str, str], list[tuple[datetime, datetime]]]


@dataclass
class _Counting:
    """Adds facts into one tally per (interval, key); one method per kind of report."""

    query: ReportQuery
    zone: ZoneInfo
    wrap_ups: WrapUps
    name: Callable[[str, str], str]
    tallies: dict[tuple[datetime, str], _Tally] = field(default_factory=lambda: defaultdict(_Tally))

    def tally(self, at: datetime, key: str) -> _Tally | None:
        """The tally of `key` in the interval of `at`; None outside the report's range."""
        if not self.query.start <= at < self.query.end:
            return None
        return self.tallies[(bucket(at, self.query.interval, self.zone), key)]

    def calls(self, facts: CallFacts) -> None:
        call = facts.call
        by = self.query.by
        key = call.tenant if by == "tenant" else call.channel if by == "channel" else call.flow
        if (t := self.tally(call.started_at, key)) is not None:
            t.calls += 1
            t.contained += facts.contained
            t.hangups_in_ivr += call.how == "caller_hangup" and not facts.contacts
            t.failed += call.how == "failed"
            t.transfers += facts.transfers
        for contact in facts.contacts:
            if (t := self.tally(contact.entered_at, key)) is not None:
                _contact(t, contact, self.query.threshold(contact.queue))

    def queue(self, facts: CallFacts) -> None:
        for contact in facts.contacts:
            if (t := self.tally(contact.entered_at, contact.queue)) is not None:
                _contact(t, contact, self.query.threshold(contact.queue))
                t.transfers += contact.transfers
        for part in facts.parts:
            if part.kind != "consult" and (t := self.tally(part.connected_at, part.queue)) is not None:
                t.talked_calls += 1
                t.talk += part.talk
                t.hold += part.hold
                t.wrap_up += _wrap_up(part, facts.call.tenant, self.wrap_ups)

    def agent(self, facts: CallFacts) -> None:
        tenant = facts.call.tenant
        for part in facts.parts:
            agent = self.name(tenant, part.agent)
            if part.kind != "consult" and (t := self.tally(part.connected_at, agent)) is not None:
                t.agent_calls += 1
                t.hold += part.hold
                t.wrap_up += _wrap_up(part, tenant, self.wrap_ups)
            ended = part.ended_at or part.connected_at
            if part.how == "transferred" and (t := self.tally(ended, agent)) is not None:
                t.transfers += 1
            self.spread(part.connected_at, ended, agent, "talk")
        for agent_id, at in facts.no_answers:
            if (t := self.tally(at, self.name(tenant, agent_id))) is not None:
                t.no_answers += 1

    def nodes(self, facts: CallFacts) -> None:
        for visit in facts.visits:
            if self.query.flow is not None and visit.flow != self.query.flow:
                continue
            if (t := self.tally(visit.at, f"{visit.flow}.{visit.node}")) is not None:
                t.visits += 1
                if visit.edge is not None:
                    t.exits[visit.edge] = t.exits.get(visit.edge, 0) + 1
                t.hangups += visit.ending == "hangup"
                t.errors += visit.ending == "error"

    def campaigns(self, inputs: Inputs) -> None:
        """Each attempt in the interval it started, by its outcome; opt-outs when skipped."""
        for attempt in inputs.attempts:
            if (t := self.tally(attempt.started_at, self.name(attempt.tenant, attempt.campaign))) is not None:
                t.attempts += 1
                outcome = attempt.outcome or "in_progress"
                outcome = outcome if outcome in (*OUTCOMES, "in_progress") else "other"
                t.outcomes[outcome] = t.outcomes.get(outcome, 0) + 1
        for skip in inputs.opt_outs:
            if (t := self.tally(skip.at, self.name(skip.tenant, skip.campaign))) is not None:
                t.opted_out += 1

    def agent_time(self, inputs: Inputs) -> None:
        """Logged-in time from the sessions, time per state from the agents' journal."""
        for session in inputs.sessions:
            if self.query.tenant is None or session.tenant == self.query.tenant:
                agent = self.name(session.tenant, session.agent)
                self.spread(session.login_at, session.logout_at or session.login_at, agent, "logged_in")
        for (tenant, agent, state), start, end in _spans(inputs):
            if self.query.tenant is None or tenant == self.query.tenant:
                self.spread(start, end, self.name(tenant, agent), state)

    def spread(self, start: datetime, end: datetime, key: str, what: str) -> None:
        """Add the seconds of [start, end) inside the range to each interval they cover."""
        query = self.query
        for interval, seconds in split(
            max(start, query.start), min(end, query.end), query.interval, self.zone
        ):
            t = self.tallies[(interval, key)]
            if what == "talk":
                t.talk += seconds
            elif what == "logged_in":
                t.logged_in += seconds
            else:
                t.states[what] = t.states.get(what, 0.0) + seconds


def _contact(t: _Tally, contact: Contact, threshold: float) -> None:
    if contact.outcome == "overflow":
        t.overflow += 1
        return
    t.offered += 1
    if contact.answered_at is not None:
        t.answered += 1
        t.wait_answered += contact.wait
        t.answered_in_sl += contact.wait <= threshold
    elif contact.outcome == "abandoned":
        t.abandoned += 1
        t.abandon_wait += contact.wait
    elif contact.outcome == "timeout":
        t.timeout += 1
    elif contact.outcome == "no_agents":
        t.no_agents += 1
    elif contact.outcome == "callback":
        t.callbacks += 1


def _wrap_up(part: Part, tenant: str, wrap_ups: WrapUps) -> float:
    """The agent's wrap-up that starts as this part ends (0 when the journal has none)."""
    spans = wrap_ups.get((tenant, part.agent), [])
    end = part.ended_at or part.connected_at
    i = bisect.bisect_left(spans, (end - WRAP_UP_SLACK,))
    if i < len(spans) and spans[i][0] <= end + WRAP_UP_SLACK:
        return (spans[i][1] - spans[i][0]).total_seconds()
    return 0.0


def _state_spans(
    inputs: Inputs, only: str | None = None
) -> dict[tuple[str, str], list[tuple[datetime, datetime]]]:
    """Each agent's spans in one state, from consecutive journal lines (sorted by start)."""
    spans: dict[tuple[str, str], list[tuple[datetime, datetime]]] = defaultdict(list)
    for (tenant, agent, state), start, end in _spans(inputs):
        if only is None or state == only:
            spans[(tenant, agent)].append((start, end))
    for found in spans.values():
        found.sort()
    return spans


def _spans(inputs: Inputs) -> Iterable[tuple[tuple[str, str, str], datetime, datetime]]:
    last: dict[tuple[str, str], tuple[datetime, str]] = {}
    for row in inputs.states:
        who = (row.tenant, row.agent)
        if who in last:
            start, state = last[who]
            yield (row.tenant, row.agent, state), start, row.at
        last[who] = (row.at, row.state)
    # a state still on at the end of the journal lasts until its session ended (else not counted)
    ends = {(s.tenant, s.agent): s.logout_at for s in inputs.sessions if s.logout_at is not None}
    for (tenant, agent), (start, state) in last.items():
        end = ends.get((tenant, agent))
        if state != "logged_out" and end is not None and end > start:
            yield (tenant, agent, state), start, end


def _figures(by: By, t: _Tally) -> dict[str, object]:
    if by == "campaign":
        counts = {name: t.outcomes.get(name, 0) for name in (*OUTCOMES, "other", "in_progress")}
        return {
            "attempts": t.attempts,
            **counts,
            "answered_pct": _pct(counts["answered"], t.attempts),
            "opted_out": t.opted_out,
        }
    if by == "node":
        return {
            "visits": t.visits,
            "exits": dict(sorted(t.exits.items())),
            "hangups": t.hangups,
            "errors": t.errors,
        }
    if by == "agent":
        busy = t.talk + t.wrap_up
        ready = t.states.get("ready", 0.0)
        return {
            "calls": t.agent_calls,
            "talk": _s(t.talk),
            "hold": _s(t.hold),
            "wrap_up": _s(t.wrap_up),
            "aht": _avg(busy, t.agent_calls),
            "logged_in": _s(t.logged_in),
            "ready": _s(ready),
            "not_ready": _s(t.states.get("not_ready", 0.0)),
            "on_call": _s(t.states.get("on_call", 0.0)),
            "occupancy_pct": _pct(busy, busy + ready),
            "no_answers": t.no_answers,
            "transfers": t.transfers,
        }
    queue: dict[str, object] = {
        "offered": t.offered,
        "answered": t.answered,
        "abandoned": t.abandoned,
        "abandon_wait_avg": _avg(t.abandon_wait, t.abandoned),
        "timeout": t.timeout,
        "no_agents": t.no_agents,
        "overflow": t.overflow,
        "answered_in_sl": t.answered_in_sl,
        "service_level_pct": _pct(t.answered_in_sl, t.answered),
        "asa": _avg(t.wait_answered, t.answered),
        "talk_avg": _avg(t.talk, t.talked_calls),
        "hold_avg": _avg(t.hold, t.talked_calls),
        "wrap_up_avg": _avg(t.wrap_up, t.talked_calls),
        "aht": _avg(t.talk + t.wrap_up, t.talked_calls),
        "transfers": t.transfers,
        "callbacks": t.callbacks,
    }
    if by == "queue":
        return queue
    calls: dict[str, object] = {
        "calls": t.calls,
        "contained": t.contained,
        "containment_pct": _pct(t.contained, t.calls),
        "hangups_in_ivr": t.hangups_in_ivr,
        "failed": t.failed,
        "transfers": t.transfers,
    }
    shared = ("offered", "answered", "abandoned", "service_level_pct", "asa", "callbacks")
    return calls | {k: queue[k] for k in shared}


def _s(seconds: float) -> float:
    return round(seconds, 1)


def _avg(total: float, count: int) -> float | None:
    return round(total / count, 1) if count else None


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None
