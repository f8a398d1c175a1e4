"""Call admission and DID routing: which calls the server takes, and with which flow.

Place: the first decision on every incoming call, before it is answered. The dialed number
(the user part of the To/request URI) picks the entry flow from the service's `numbers`;
an unknown number is refused with 404. Beyond the configured capacity, while the server is
overloaded (`ivr.adapters.hosting.overload`: its own latency is too high), while its call
records cannot be written (`ivr.adapters.hosting.resilient`), or once shutdown has begun,
calls are refused with 503 and a Retry-After header, before pjsua2 itself would refuse them
at its compiled limit with a less helpful 486.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from ivr.flowlang.ir import Project

log = logging.getLogger(__name__)

SMALL_BUILD = 4  # every PyPI pjsua2 wheel: PJSUA_MAX_CALLS 4


@dataclass(frozen=True)
class Admit:
    flow: str


@dataclass(frozen=True)
class Refuse:
    status: int  # the SIP final response: 404 or 503
    reason: str  # the metrics label: "unknown_number", "capacity", "overload", "shutting_down"
    retry_after: int | None = None  # seconds, for a 503


Decision = Admit | Refuse


def usable_capacity(requested: int, compiled: int) -> int:
    """How many calls to take: `requested` (0: all), kept below the compiled limit by a small
    reserve, so that our 503 always comes before pjsua2's own 486 (refused calls and agent
    legs hold a pjsua2 slot for a moment too)."""
    reserve = min(32, max(1, compiled // 32)) if compiled > 1 else 0
    ceiling = max(1, compiled - reserve)
    return ceiling if requested <= 0 else min(requested, ceiling)


class Admission:
    """Counts admitted calls and decides on each new one. Only the trio thread uses it."""

    def __init__(
        self,
        project: Project,
        capacity: int,
        *,
        overloaded: Callable[[], bool] = lambda: False,
        retry_after: int = 10,
    ) -> None:
        self._routes = {r.number: r.flow for r in (project.service.numbers if project.service else ())}
        self.capacity = capacity
        self.active = 0
        self.peak = 0
        self.draining = False
        self._refusing: list[tuple[str, Callable[[], bool]]] = [("overload", overloaded)]
        self.retry_after = retry_after

    def refuse_while(self, reason: str, condition: Callable[[], bool]) -> None:
        """Refuse new calls with 503 (`reason` in the metrics) while `condition()` holds."""
        self._refusing.append((reason, condition))

    def decide(self, dialed: str) -> Decision:
        if self.draining:
            return Refuse(503, "shutting_down", self.retry_after)
        flow = self._routes.get(dialed)
        if flow is None:
            return Refuse(404, "unknown_number")
        if self.active >= self.capacity:
            return Refuse(503, "capacity", self.retry_after)
        for reason, condition in self._refusing:
            if condition():
                return Refuse(503, reason, self.retry_after)
        return Admit(flow)

    def enter(self) -> None:
        self.active += 1
        self.peak = max(self.peak, self.active)

    def leave(self) -> None:
        self.active -= 1

    @property
    def numbers(self) -> dict[str, str]:
        return dict(self._routes)


def warn_if_small_build(compiled: int) -> None:
    """Log a banner that cannot be missed when pjsua2 can hold only a handful of calls."""
    if compiled > SMALL_BUILD:
        return
    bar = "!" * 78
    log.warning(
        "\n%s\n!! This pjsua2 build holds only %d concurrent call(s) (PJSUA_MAX_CALLS).\n"
        "!! Fine for development; useless for hosting. Build the hosting wheel with\n"
        "!!     bash scripts/build-pjsua2.sh .venv\n%s",
        bar,
        compiled,
        bar,
    )
