"""The flow-test model: what a `*.test.yaml` file says, after loading and checking.

`loader` builds these from YAML (with positioned diagnostics); `runner` plays them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ivr.flowlang.diagnostics import Span
from ivr.runtime.testing import Fixture, QueueAnswer, ScriptedDelivery

ACTIONS = ("expect", "expect_node", "press", "barge_in", "silence", "speak", "hangup")


@dataclass(frozen=True, slots=True)
class Step:
    """One caller action or check: `action` is one of `ACTIONS`."""

    action: str
    value: str | float | None
    span: Span

    def describe(self) -> str:
        return self.action if self.value is None else f"{self.action}: {self.value}"


@dataclass(frozen=True, slots=True)
class Fixtures:
    operations: Mapping[str, tuple[Fixture, ...]] = field(default_factory=dict)
    queues: Mapping[str, QueueAnswer] = field(default_factory=dict)
    transfers: Mapping[str, bool] = field(default_factory=dict)
    failing_channels: frozenset[str] = frozenset()  # refused at `send` (`down`)
    deliveries: Mapping[str, ScriptedDelivery] = field(default_factory=dict)  # the gateway's answer


@dataclass(frozen=True, slots=True)
class Expected:
    """One `expect:` entry: a check of the finished call (`what` names it)."""

    what: str
    value: object
    span: Span


@dataclass(frozen=True, slots=True)
class FlowTest:
    name: str
    span: Span
    flow: str | None
    number: str | None
    caller: str
    language: str | None
    at: datetime
    fixtures: Fixtures
    script: tuple[Step, ...]
    expect: tuple[Expected, ...]
    timeout: float
    inputs: Mapping[str, object] = field(default_factory=dict)  # the called flow's inputs
    outbound: Outbound | None = None  # an outbound flow's contact and who answered


@dataclass(frozen=True, slots=True)
class Outbound:
    """A test's `outbound:`: the contact's fields, who answers (person or machine), the
    campaign's name and the attempt number the flow reads."""

    contact: Mapping[str, object]
    answered_by: str = "person"
    campaign: str = "trial"
    attempt: int = 1


@dataclass(frozen=True, slots=True)
class TestFile:
    path: str
    project: tuple[str, ...]
    tests: tuple[FlowTest, ...]
