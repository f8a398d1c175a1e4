"""Service metrics for Prometheus (`GET /metrics`), on `prometheus_client`.

Place: beside the HTTP app; the supervisor, the records tap and the prompt cache update it.
Each server owns its own `CollectorRegistry` (never the library's global one), so tests
can run several servers in one process. Counters and the operation-latency histogram are
`prometheus_client` metrics; what is read at scrape time (calls up, capacity, the ACD's
queues and agents) comes from a collector that asks the server then. Names follow
Prometheus conventions (`_total` counters, seconds, base units).

Hot paths (a node step, a prompt cache hit) keep a bound child metric, so an event costs a
fraction of a microsecond (a `labels()` look-up costs about 1 µs, a bound child's `inc`
about 0.3 µs on this machine).
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from ivr.adapters.hosting.overload import LoadReading
from ivr.runtime.acd import AcdStatistics, AgentState, QueueStatistics

# `*_created` series double every counter for nothing a dashboard here uses.
disable_created_metrics()  # type: ignore[no-untyped-call]


class RecordsBacklog(Protocol):
    """What the metrics read of the records' write backlog (`ResilientRecords` fits)."""

    @property
    def backlog(self) -> int: ...
    @property
    def lost(self) -> int: ...


LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # what generate_latest writes

Gauges = Callable[[], Mapping[str, float]]
AcdReader = Callable[[], AcdStatistics | None]


class Metrics:
    """Every number the server reports, in one registry. Only the trio thread writes it."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.calls = Counter("ivr_calls", "Calls ended, by tenant and how.", ["tenant", "how"], registry=r)
        self.rejected = Counter(
            "ivr_calls_rejected",
            "Calls refused before answer, by reason (and tenant, when the number is one's).",
            ["tenant", "reason"],
            registry=r,
        )
        self.node_steps = Counter("ivr_node_steps", "Flow nodes run, by tenant.", ["tenant"], registry=r)
        self.operations = Histogram(
            "ivr_operation_latency_seconds",
            "Data operation latency, by tenant, operation and outcome.",
            ["tenant", "operation", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.tts_hits = Counter("ivr_tts_cache_hits", "Prompts found in the prompt cache.", registry=r)
        self.tts_misses = Counter("ivr_tts_cache_misses", "Prompts rendered on demand.", registry=r)
        self.tts_prerendered = Counter(
            "ivr_tts_prerendered", "Static prompts rendered at start-up.", registry=r
        )
        self.tts_static = Gauge(
            "ivr_tts_static_prompts", "Static prompts found in the flows versions served.", registry=r
        )
        self.rtp_sent = Counter("ivr_rtp_packets_sent", "RTP packets sent to callers.", registry=r)
        self.rtp_received = Counter("ivr_rtp_packets_received", "RTP packets from callers.", registry=r)
        self.call_errors = Counter("ivr_call_errors", "Call tasks failed outside the engine.", registry=r)
        self.messages = Counter(
            "ivr_messages",
            "Messages queued by send nodes, by tenant and channel.",
            ["tenant", "channel"],
            registry=r,
        )
        self.message_attempts = Counter(
            "ivr_message_attempts",
            "Delivery attempts, by tenant, channel and what the message became (sent, queued again, "
            "dead, in_doubt).",
            ["tenant", "channel", "status"],
            registry=r,
        )
        self.load: LoadReading | None = None  # the overload monitor's, read at scrape time
        self.records: RecordsBacklog | None = None  # the call records' write backlog, at scrape time
        r.register(_ServerCollector(self))
        self._steps: dict[str, Counter] = {}  # bound children: a node step is the hottest event
        # what /health shows, without reading the registry back
        self.prerendered = 0
        self.static_prompts = 0

    # -- events ----------------------------------------------------------------------------
    def call_ended(self, how: str, tenant: str = "") -> None:
        self.calls.labels(tenant, how).inc()

    def call_refused(self, reason: str, tenant: str = "", count: int = 1) -> None:
        self.rejected.labels(tenant, reason).inc(count)

    def node_step(self, tenant: str) -> None:
        steps = self._steps.get(tenant)
        if steps is None:
            steps = self._steps[tenant] = self.node_steps.labels(tenant)
        steps.inc()

    def operation(self, name: str, outcome: str, seconds: float, tenant: str = "") -> None:
        self.operations.labels(tenant, name, outcome).observe(seconds)

    def message_queued(self, tenant: str, channel: str) -> None:
        self.messages.labels(tenant, channel).inc()

    def message_attempted(self, tenant: str, channel: str, status: str) -> None:
        self.message_attempts.labels(tenant, channel, status).inc()

    def prompts_found(self, count: int) -> None:
        """Static prompts of one more flows version to pre-render (they add up)."""
        self.static_prompts += count
        self.tts_static.set(self.static_prompts)

    def prompt_prerendered(self) -> None:
        self.prerendered += 1
        self.tts_prerendered.inc()

    # -- scrape time -----------------------------------------------------------------------
    def watch(self, gauges: Gauges, acd: AcdReader | None = None) -> None:
        """Read `gauges` (name -> value) and the ACD's statistics at every scrape."""
        self.registry.register(_LiveCollector(gauges, acd))

    def exposition(self) -> bytes:
        """The Prometheus text exposition (format 0.0.4)."""
        return generate_latest(self.registry)


_HELP: dict[str, str] = {
    "ivr_calls_active": "Calls admitted and not yet ended.",
    "ivr_calls_peak": "Most calls active at once since start.",
    "ivr_capacity": "Calls the server admits at once.",
    "ivr_compiled_max_calls": "PJSUA_MAX_CALLS of the pjsua2 build.",
    "ivr_uptime_seconds": "Seconds since the server started.",
    "ivr_draining": "1 while shutting down (new calls refused).",
}


class _ServerCollector(Collector):
    """The overload monitor's readings and the records' backlog, read when Prometheus scrapes."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        load, records = self._metrics.load, self._metrics.records
        if load is not None:
            yield from _load_families(load)
        if records is not None:
            yield GaugeMetricFamily(
                "ivr_records_backlog", "Call record lines waiting for their disk.", value=records.backlog
            )
            yield CounterMetricFamily(
                "ivr_records_lost", "Call record lines dropped (backlog full).", value=records.lost
            )


def _load_families(load: LoadReading) -> Iterator[Metric]:
    """The overload monitor's smoothed latencies and decision."""
    gauges: list[tuple[str, str, float]] = [
        ("ivr_event_loop_lag_seconds", "How late the event loop runs (moving average).", load.loop_lag),
        ("ivr_sip_thread_lag_seconds", "How long a command waits for the pjsua2 thread.", load.pj_lag),
        ("ivr_sip_thread_queue", "Commands waiting for the pjsua2 thread.", load.pj_queue),
        ("ivr_sip_call_slots_used", "Calls pjsua2 counts as holding a slot.", load.pj_slots),
        ("ivr_sip_backlog_bytes", "SIP waiting in the kernel for the pjsua2 thread.", load.sip_backlog),
        ("ivr_call_setup_wait_seconds", "How long new calls wait to be taken up.", load.setup_wait),
        ("ivr_overloaded", "1 while new calls are refused for overload.", int(load.overloaded)),
    ]  # fmt: skip
    for name, text, value in gauges:
        yield GaugeMetricFamily(name, text, value=value)
    yield CounterMetricFamily(
        "ivr_overload_episodes", "Times overload control began refusing.", value=load.episodes
    )


class _LiveCollector(Collector):
    """Gauges and ACD figures read from the server when Prometheus scrapes."""

    def __init__(self, gauges: Gauges, acd: AcdReader | None) -> None:
        self._gauges = gauges
        self._acd = acd

    def describe(self) -> list[Metric]:
        return []  # unchecked: the names are fixed and never collide with the registry's own

    def collect(self) -> Iterator[Metric]:
        for name, value in self._gauges().items():
            yield GaugeMetricFamily(name, _HELP.get(name, name), value=value)
        stats = self._acd() if self._acd is not None else None
        if stats is not None:
            yield from _acd_families(stats)


def _acd_families(acd: AcdStatistics) -> Iterator[Metric]:
    """Queues (by `queue`) and agents (by `state`) of the ACD."""
    queues = sorted(acd.queues.values(), key=lambda q: q.name)
    gauges: list[tuple[str, str, Callable[[QueueStatistics], float | None]]] = [
        ("ivr_queue_waiting", "Calls waiting for an agent (or ringing one).", lambda q: q.waiting),
        ("ivr_queue_longest_wait_seconds", "Wait of the longest waiting call.", lambda q: q.longest_wait),
        ("ivr_queue_service_level", "Fraction of answered calls answered within the threshold (0-1).",
         lambda q: None if q.service_level is None else q.service_level / 100),
    ]  # fmt: skip
    for name, text, read in gauges:
        family = GaugeMetricFamily(name, text, labels=["queue"])
        for q in queues:
            value = read(q)
            if value is not None:
                family.add_metric([q.name], value)
        yield family
    counters: list[tuple[str, str, Callable[[QueueStatistics], int]]] = [
        ("ivr_queue_entered", "Calls that entered the queue.", lambda q: q.entered),
        ("ivr_queue_answered", "Calls an agent answered.", lambda q: q.answered),
        ("ivr_queue_abandoned", "Callers who hung up before an agent answered.", lambda q: q.abandoned),
        ("ivr_queue_timed_out", "Calls that waited their maximum.", lambda q: q.timed_out),
        ("ivr_queue_no_agents", "Turned away: no agent has the skills.", lambda q: q.no_agents),
        ("ivr_queue_overflowed", "Calls turned away: the queue was full.", lambda q: q.overflowed),
    ]  # fmt: skip
    for name, text, count in counters:
        counter = CounterMetricFamily(name, text, labels=["queue"])
        for q in queues:
            counter.add_metric([q.name], count(q))
        yield counter
    states = Tally(agent.state.value for agent in acd.agents.values())
    agents = GaugeMetricFamily("ivr_agents", "Logged-in agents, by state.", labels=["state"])
    for state in AgentState:
        if state is not AgentState.LOGGED_OUT:
            agents.add_metric([state.value], states.get(state.value, 0))
    yield agents
