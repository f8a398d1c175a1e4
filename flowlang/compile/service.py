"""Compile the service document (operations, queues, calendars, channels, numbers, and the
flows agents may send callers into).

Like flows, the service is schema-checked first and then built forgivingly: an entry with
a broken shape is still built from what is usable, so flows can be checked against it.
"""

from __future__ import annotations

from decimal import Decimal

from ivr.flowlang.compile.channels import channel
from ivr.flowlang.compile.flow import check_language_codes
from ivr.flowlang.compile.keys import global_keys
from ivr.flowlang.compile.outbound import build_campaign, build_trunk
from ivr.flowlang.compile.reader import Context, Reader
from ivr.flowlang.compile.service_checks import check_calendar, check_operation
from ivr.flowlang.compile.values import duration
from ivr.flowlang.diagnostics import Diagnostic, Severity
from ivr.flowlang.ir import (
    AgentFlowDecl,
    CalendarDecl,
    NumberRoute,
    OperationDecl,
    QueueDecl,
    Service,
)
from ivr.flowlang.validation import validate_service
from ivr.flowlang.yamlsource import SourceMap

OPERATION_TIMEOUT = Decimal(5)
_OPERATION_FIELDS = frozenset({"backend", "params", "returns", "timeout", "retries", "description"})


def build_service(data: object, source_map: SourceMap, file: str) -> tuple[Service | None, list[Diagnostic]]:
    if not isinstance(data, dict):
        message = "a service file is a mapping that starts with `service: <name>`"
        return None, [Diagnostic("FL103", Severity.ERROR, message, source_map.value(()))]
    ctx = Context(file, source_map)
    ctx.diagnostics.extend(validate_service(data, source_map))
    top = Reader(ctx, data, ())
    check_language_codes(top)
    for _, reader in _entries(top, "operations"):
        check_operation(reader)
    for _, reader in _entries(top, "calendars"):
        check_calendar(reader)
    trunks = {name: build_trunk(r) for name, r in _entries(top, "trunks")}
    calendars = {name for name, _ in _entries(top, "calendars")}
    channels = {name: channel(r) for name, r in _entries(top, "channels")}
    sms_channels = {name for name, c in channels.items() if c.kind == "sms"}
    service = Service(
        name=top.text("service", "service") or "service",
        file=file,
        operations={name: _operation(r) for name, r in _entries(top, "operations")},
        queues={
            name: QueueDecl(name, r.strings("skills"), ctx.key_span(r.path))
            for name, r in _entries(top, "queues")
        },
        calendars={name: _calendar(r) for name, r in _entries(top, "calendars")},
        channels=channels,
        numbers=tuple(
            NumberRoute(number, flow, ctx.key_span(path))
            for number, flow, path in top.mapping("numbers")
            if isinstance(flow, str)
        ),
        languages=tuple(top.strings("languages")),
        span=source_map.value(("service",)),
        trunks=trunks,
        campaigns={
            name: build_campaign(r, trunks, set(calendars), sms_channels)
            for name, r in _entries(top, "campaigns")
        },
        agent_flows={name: _agent_flow(r) for name, r in _entries(top, "agent_flows")},
        global_keys=global_keys(top),
        module=top.text("module"),
        module_span=source_map.value(("module",)) if "module" in data else None,
    )
    return service, ctx.diagnostics


def _entries(top: Reader, section: str) -> list[tuple[str, Reader]]:
    return [
        (name, Reader(top.ctx, raw if isinstance(raw, dict) else {}, path))
        for name, raw, path in top.mapping(section)
    ]


def _operation(r: Reader) -> OperationDecl:
    name = str(r.path[-1])
    return OperationDecl(
        name=name,
        backend=r.text("backend", "python") or "python",
        params=r.strings("params"),
        returns=r.strings("returns"),
        timeout=duration(r, "timeout", OPERATION_TIMEOUT),
        retries=r.whole("retries", 0),
        config={k: val for k, val in r.data.items() if k not in _OPERATION_FIELDS},
        span=r.ctx.key_span(r.path),
    )


def _calendar(r: Reader) -> CalendarDecl:
    hours: dict[str, tuple[tuple[str, str], ...]] = {}
    for day, periods, _path in r.mapping("hours"):
        pairs = []
        for period in periods if isinstance(periods, list) else []:
            if isinstance(period, list) and len(period) == 2 and all(isinstance(p, str) for p in period):
                pairs.append((str(period[0]), str(period[1])))
        hours[day] = tuple(pairs)
    return CalendarDecl(
        name=str(r.path[-1]),
        timezone=r.text("timezone", "UTC") or "UTC",
        hours=hours,
        holidays=r.strings("holidays"),
        span=r.ctx.key_span(r.path),
    )


def _agent_flow(r: Reader) -> AgentFlowDecl:
    return AgentFlowDecl(
        flow=str(r.path[-1]),
        label=_words(r.get("label")),
        outcomes={name: _words(words) for name, words, _path in r.mapping("outcomes")},
        span=r.ctx.key_span(r.path),
    )


def _words(value: object) -> dict[str, str]:
    """`{language: text}`, keeping only well-formed pairs (the schema reported the rest)."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}
