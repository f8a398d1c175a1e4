"""Builds projects from YAML text and runs calls on the in-memory ports (MockClock tests)."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ivr.flowlang.compile import compile_flow, compile_service
from ivr.flowlang.ir import Flow, Project, Service
from ivr.flowlang.yamlsource import load_yaml
from ivr.runtime.context import CallPorts
from ivr.runtime.engine import CallOutcome, Engine
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallLeg,
    MemoryCallRecords,
    MemoryChannels,
    ScriptedRouting,
    VirtualWallClock,
)


def flow(text: str, file: str = "flows/test.yaml") -> Flow:
    loaded = load_yaml(textwrap.dedent(text), file)
    compiled, problems = compile_flow(loaded.data, loaded.source_map, file)
    errors = [d for d in problems if d.is_error]
    assert compiled is not None and not errors, errors
    return compiled


def service(text: str) -> Service:
    loaded = load_yaml(textwrap.dedent(text), "service.yaml")
    compiled, problems = compile_service(loaded.data, loaded.source_map, "service.yaml")
    assert compiled is not None and not [d for d in problems if d.is_error], problems
    return compiled


def project(*flows: Flow, service_text: str | None = None) -> Project:
    svc = service(service_text) if service_text else None
    return Project({f.name: f for f in flows}, svc, {})


@dataclass
class Harness:
    """One project on memory ports; `call()` makes a leg, `run()` runs it."""

    project: Project
    operations: FixtureOperations = field(default_factory=FixtureOperations)
    records: MemoryCallRecords = field(default_factory=MemoryCallRecords)
    channels: MemoryChannels = field(default_factory=MemoryChannels)
    routing: ScriptedRouting = field(default_factory=ScriptedRouting)
    clock: VirtualWallClock = field(
        default_factory=lambda: VirtualWallClock(datetime(2026, 11, 27, 2, 0, tzinfo=UTC))
    )

    @property
    def engine(self) -> Engine:
        ports = CallPorts(self.operations, self.channels, self.routing, self.records, self.clock)
        return Engine(self.project, ports)

    async def run(self, leg: MemoryCallLeg, flow_name: str | None = None) -> CallOutcome:
        name = flow_name or next(iter(self.project.flows))
        return await self.engine.run_call(leg, name)


def heard(leg: MemoryCallLeg) -> list[str]:
    return [p.text for p in leg.prompts]
