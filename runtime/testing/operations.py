"""`FixtureOperations`: the `DataOperations` port answered from canned fixtures.

Each operation name maps to a `Fixture` (a result, an error or a timeout, after an optional
latency), to a list of them for successive calls (the last one repeats), or to `when`
cases matched on the arguments. Calls are kept in `calls` for assertions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import trio

from ivr.runtime.ports import OperationError, OperationTimeout


@dataclass(frozen=True, slots=True)
class Fixture:
    """One canned answer. `when` (if set) must equal the given arguments, key by key."""

    result: object = None
    error: str | None = None
    timeout: bool = False
    latency: float = 0.0
    when: Mapping[str, object] | None = None

    def matches(self, args: Mapping[str, object]) -> bool:
        return self.when is None or all(_same(args.get(k), v) for k, v in self.when.items())


@dataclass(frozen=True, slots=True)
class OperationCall:
    name: str
    args: Mapping[str, object]


@dataclass(slots=True, eq=False)
class FixtureOperations:
    """Answers data operations from fixtures; an unknown name is an `OperationError`."""

    fixtures: Mapping[str, Sequence[Fixture]] = field(default_factory=dict)
    calls: list[OperationCall] = field(default_factory=list)

    async def invoke(self, name: str, args: Mapping[str, object]) -> object:
        count = sum(1 for c in self.calls if c.name == name)
        self.calls.append(OperationCall(name, dict(args)))
        fixture = self._pick(name, args, count)
        await trio.sleep(fixture.latency)
        if fixture.timeout:
            raise OperationTimeout(f"{name} timed out (fixture)")
        if fixture.error is not None:
            raise OperationError(fixture.error)
        return fixture.result

    def _pick(self, name: str, args: Mapping[str, object], count: int) -> Fixture:
        choices = self.fixtures.get(name)
        if not choices:
            raise OperationError(f"no fixture for operation '{name}'")
        if any(f.when is not None for f in choices):
            for fixture in choices:
                if fixture.matches(args):
                    return fixture
            # Names only: an argument may be a PIN, and this message can reach a log.
            raise OperationError(f"no fixture of '{name}' matches the arguments ({', '.join(args)})")
        return choices[min(count, len(choices) - 1)]


def _same(actual: object, expected: object) -> bool:
    return actual == expected or str(actual) == str(expected)
