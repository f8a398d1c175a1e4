"""Service metrics, kept in memory and written as Prometheus text (`GET /metrics`).

Place: beside the HTTP app; the supervisor, the records tap and the prompt cache update it.
Plain counters and one latency histogram: no client library, nothing to configure. Names
follow Prometheus conventions (`_total` counters, seconds, base units).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from ivr.adapters.hosting.overload import LoadReading
from ivr.runtime.acd import AcdStatistics, AgentState, QueueStatistics


class RecordsBacklog(Protocol):
    """What the metrics read of the records' write backlog (`ResilientRecords` fits)."""

    @property
    def backlog(self) -> int: ...
    @property
    def lost(self) -> int: ...


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Histogram:
    """A cumulative-bucket histogram (seconds), as Prometheus reads it."""

    buckets: tuple[float, ...] = LATENCY_BUCKETS
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str, labels: str) -> Iterator[str]:
        running = 0
        for bound, count in zip((*self.buckets, float("inf")), self.counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            yield f'{name}_bucket{{{labels}{"," if labels else ""}le="{le}"}} {running}'
        braces = f"{{{labels}}}" if labels else ""
        yield f"{name}_sum{braces} {self.total:.6f}"
        yield f"{name}_count{braces} {self.n}"


@dataclass
class Metrics:
    """Every number the server reports. Only the trio thread writes it."""

    calls_total: Counter[str] = field(default_factory=Counter)  # by how the call ended
    rejected_total: Counter[str] = field(default_factory=Counter)  # by reason
    node_steps_total: int = 0
    operations: dict[tuple[str, str], Histogram] = field(default_factory=dict)  # (name, outcome)
    tts_hits: int = 0
    tts_misses: int = 0
    tts_prerendered: int = 0
    tts_static_prompts: int = 0
    rtp_sent_total: int = 0
    rtp_received_total: int = 0
    call_errors_total: int = 0
    load: LoadReading | None = None  # the overload monitor's, read at scrape time
    records: RecordsBacklog | None = None  # the call records' write backlog, read at scrape time

    def operation(self, name: str, outcome: str, seconds: float) -> None:
        self.operations.setdefault((name, outcome), Histogram()).observe(seconds)

    def render(self, gauges: dict[str, float], acd: AcdStatistics | None = None) -> str:
        """The Prometheus text exposition (format 0.0.4); `gauges` and the ACD's statistics
        are read at scrape time."""
        lines = [*_exposition(self, gauges), *(_acd_exposition(acd) if acd is not None else ())]
        return "\n".join(lines) + "\n"


_HELP: dict[str, tuple[str, str]] = {
    "ivr_calls_active": ("gauge", "Calls admitted and not yet ended."),
    "ivr_calls_peak": ("gauge", "Most calls active at once since start."),
    "ivr_capacity": ("gauge", "Calls the server admits at once."),
    "ivr_compiled_max_calls": ("gauge", "PJSUA_MAX_CALLS of the pjsua2 build."),
    "ivr_uptime_seconds": ("gauge", "Seconds since the server started."),
    "ivr_draining": ("gauge", "1 while shutting down (new calls refused)."),
}


def _exposition(m: Metrics, gauges: dict[str, float]) -> Iterator[str]:
    for name, value in gauges.items():
        kind, text = _HELP.get(name, ("gauge", name))
        yield from _header(name, kind, text)
        yield f"{name} {_num(value)}"
    yield from _counter_family("ivr_calls_total", "Calls ended, by how.", "how", m.calls_total)
    yield from _counter_family(
        "ivr_calls_rejected_total", "Calls refused before answer, by reason.", "reason", m.rejected_total
    )
    simple: list[tuple[str, str, Callable[[Metrics], int]]] = [
        ("ivr_node_steps_total", "Flow nodes run.", lambda x: x.node_steps_total),
        ("ivr_tts_cache_hits_total", "Prompts found in the prompt cache.", lambda x: x.tts_hits),
        ("ivr_tts_cache_misses_total", "Prompts rendered on demand.", lambda x: x.tts_misses),
        ("ivr_tts_prerendered_total", "Static prompts rendered at start-up.", lambda x: x.tts_prerendered),
        ("ivr_rtp_packets_sent_total", "RTP packets sent to callers.", lambda x: x.rtp_sent_total),
        ("ivr_rtp_packets_received_total", "RTP packets from callers.", lambda x: x.rtp_received_total),
        ("ivr_call_errors_total", "Call tasks failed outside the engine.", lambda x: x.call_errors_total),
    ]  # fmt: skip
    for name, text, read in simple:
        yield from _header(name, "counter", text)
        yield f"{name} {read(m)}"
    if m.load is not None:
        yield from _load_exposition(m.load)
    if m.records is not None:
        yield from _header("ivr_records_backlog", "gauge", "Call record lines waiting for their disk.")
        yield f"ivr_records_backlog {m.records.backlog}"
        yield from _header("ivr_records_lost_total", "counter", "Call record lines dropped (backlog full).")
        yield f"ivr_records_lost_total {m.records.lost}"
    yield from _header("ivr_tts_static_prompts", "gauge", "Static prompts found in the flows.")
    yield f"ivr_tts_static_prompts {m.tts_static_prompts}"
    name = "ivr_operation_latency_seconds"
    yield from _header(name, "histogram", "Data operation latency, by operation and outcome.")
    for (operation, outcome), histogram in sorted(m.operations.items()):
        yield from histogram.lines(name, f'operation="{_esc(operation)}",outcome="{_esc(outcome)}"')


def _load_exposition(load: LoadReading) -> Iterator[str]:
    """The overload monitor's smoothed latencies and decision."""
    gauges: list[tuple[str, str, float]] = [
        ("ivr_event_loop_lag_seconds", "How late the event loop runs (moving average).", load.loop_lag),
        ("ivr_sip_thread_lag_seconds", "How long a command waits for the pjsua2 thread.", load.pj_lag),
        ("ivr_sip_thread_queue", "Commands waiting for the pjsua2 thread.", load.pj_queue),
        ("ivr_overloaded", "1 while new calls are refused for overload.", int(load.overloaded)),
    ]  # fmt: skip
    for name, text, value in gauges:
        yield from _header(name, "gauge", text)
        yield f"{name} {_num(value)}"
    yield from _header("ivr_overload_episodes_total", "counter", "Times overload control began refusing.")
    yield f"ivr_overload_episodes_total {load.episodes}"


def _acd_exposition(acd: AcdStatistics) -> Iterator[str]:
    """Queues (by `queue`) and agents (by `state`) of the ACD."""
    queues = sorted(acd.queues.values(), key=lambda q: q.name)
    gauges: list[tuple[str, str, Callable[[QueueStatistics], float | None]]] = [
        ("ivr_queue_waiting", "Calls waiting for an agent (or ringing one).", lambda q: q.waiting),
        ("ivr_queue_longest_wait_seconds", "Wait of the longest waiting call.", lambda q: q.longest_wait),
        ("ivr_queue_service_level", "Fraction of answered calls answered within the threshold (0-1).",
         lambda q: None if q.service_level is None else q.service_level / 100),
    ]  # fmt: skip
    for name, text, read in gauges:
        yield from _header(name, "gauge", text)
        for q in queues:
            value = read(q)
            if value is not None:
                yield f'{name}{{queue="{_esc(q.name)}"}} {_num(value)}'
    counters: list[tuple[str, str, Callable[[QueueStatistics], int]]] = [
        ("ivr_queue_entered_total", "Calls that entered the queue.", lambda q: q.entered),
        ("ivr_queue_answered_total", "Calls an agent answered.", lambda q: q.answered),
        ("ivr_queue_abandoned_total", "Callers who hung up before an agent answered.", lambda q: q.abandoned),
        ("ivr_queue_timed_out_total", "Calls that waited their maximum.", lambda q: q.timed_out),
        ("ivr_queue_no_agents_total", "Turned away: no agent has the skills.", lambda q: q.no_agents),
        ("ivr_queue_overflowed_total", "Calls turned away: the queue was full.", lambda q: q.overflowed),
    ]  # fmt: skip
    for name, text, count in counters:
        yield from _header(name, "counter", text)
        for q in queues:
            yield f'{name}{{queue="{_esc(q.name)}"}} {count(q)}'
    states = Counter(agent.state.value for agent in acd.agents.values())
    yield from _header("ivr_agents", "gauge", "Logged-in agents, by state.")
    for state in AgentState:
        if state is not AgentState.LOGGED_OUT:
            yield f'ivr_agents{{state="{state.value}"}} {states.get(state.value, 0)}'


def _counter_family(name: str, text: str, label: str, counter: Counter[str]) -> Iterator[str]:
    yield from _header(name, "counter", text)
    for key, value in sorted(counter.items()):
        yield f'{name}{{{label}="{_esc(key)}"}} {value}'


def _header(name: str, kind: str, text: str) -> Iterator[str]:
    yield f"# HELP {name} {text}"
    yield f"# TYPE {name} {kind}"


def _esc(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.3f}"
