"""Builders shared by the adapter tests: declarations and services without YAML."""

from __future__ import annotations

from decimal import Decimal

from ivr.flowlang.diagnostics import Span
from ivr.flowlang.ir import OperationDecl, Service


def op(
    name: str,
    backend: str,
    *,
    params: tuple[str, ...] = (),
    timeout: str = "2",
    retries: int = 0,
    line: int = 1,
    **config: object,
) -> OperationDecl:
    return OperationDecl(
        name=name,
        backend=backend,
        params=params,
        returns=(),
        timeout=Decimal(timeout),
        retries=retries,
        config=config,
        span=Span("service.yaml", line, 3),
    )


def service(*operations: OperationDecl) -> Service:
    return Service(
        name="test",
        file="service.yaml",
        operations={o.name: o for o in operations},
        queues={},
        calendars={},
        channels={},
        numbers=(),
        languages=("en",),
        span=Span("service.yaml", 1, 1),
    )
