"""Call admission and DID routing: which calls the server takes, for which tenant and flow.

Place: the first decision on every incoming call, before it is answered. The dialed number
(the user part of the To/request URI) picks the tenant and, through the tenant's current
flows version, the entry flow; an unknown number is refused with 404. Once shutdown has
begun, and for a tenant that is unavailable (its module failed to start), calls get 503.

Seats: a tenant with a quota (`seats: {calls: N, overflow: M}`) holds N + M calls of the
server's capacity for itself. Its N+1st call hears its overflow flow (one of M), and beyond
that gets 503: it never takes another tenant's capacity. Tenants without a quota share
what no tenant holds (the pool), and get 503 when the pool is full. The server refuses at
start-up when the quotas add up to more than its capacity. All of it is refused with 503
before pjsua2 itself would refuse at its compiled limit with a less helpful 486.

Overload: while the server is overloaded (`ivr.adapters.hosting.overload`: its own latency
is too high), while its call records cannot be written (`ivr.adapters.hosting.resilient`),
and once shutdown has begun, calls are refused with 503 and a Retry-After header.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from ivr.adapters.errors import ConfigError
from ivr.adapters.hosting.tenants import Tenant, TenantVersion
from ivr.adapters.sip.limits import slot_reserve

log = logging.getLogger(__name__)

SMALL_BUILD = 4  # every PyPI pjsua2 wheel: PJSUA_MAX_CALLS 4

Seat = Literal["quota", "overflow", "pool"]
RefusalReason = Literal[
    "unknown_number",
    "capacity",
    "overload",
    "records",
    "shutting_down",
    "tenant_unavailable",
    "tenant_quota",
]


@dataclass(frozen=True)
class Admit:
    tenant: Tenant
    version: TenantVersion
    flow: str
    seat: Seat


@dataclass(frozen=True)
class Refuse:
    status: int  # the SIP final response: 404 or 503
    reason: RefusalReason  # the metrics label
    tenant: str = ""
    retry_after: int | None = None  # seconds, for a 503


Decision = Admit | Refuse


def usable_capacity(requested: int, compiled: int) -> int:
    """How many calls to take: `requested` (0: all), kept below the compiled limit by a small
    reserve, so that our 503 always comes before pjsua2's own 486 (refused calls and agent
    legs hold a pjsua2 slot for a moment too)."""
    ceiling = max(1, compiled - slot_reserve(compiled))
    return ceiling if requested <= 0 else min(requested, ceiling)


class Admission:
    """Counts admitted calls and decides on each new one. Only the trio thread uses it."""

    def __init__(
        self,
        tenants: Iterable[Tenant],
        capacity: int,
        *,
        overloaded: Callable[[], bool] = lambda: False,
        retry_after: int = 10,
    ) -> None:
        self.tenants = {tenant.name: tenant for tenant in tenants}
        self._routes = {number: t for t in self.tenants.values() for number in t.plan.numbers}
        self.capacity = capacity
        self.reserved = sum(t.seats.reserved for t in self.tenants.values())
        if self.reserved > capacity:
            quotas = ", ".join(
                f"{t.name} {t.seats.reserved}" for t in self.tenants.values() if t.seats.reserved
            )
            raise ConfigError(
                f"the tenants' seat quotas ({quotas}) add up to {self.reserved} calls, "
                f"but the server takes {capacity}: lower the quotas or raise --capacity"
            )
        self.pool = capacity - self.reserved
        self.pool_active = 0
        self.active = 0
        self.peak = 0
        self.draining = False
        self._refusing: list[tuple[RefusalReason, Callable[[], bool]]] = [("overload", overloaded)]
        self.retry_after = retry_after

    def refuse_while(self, reason: RefusalReason, condition: Callable[[], bool]) -> None:
        """Refuse new calls with 503 (`reason` in the metrics) while `condition()` holds."""
        self._refusing.append((reason, condition))

    def decide(self, dialed: str) -> Decision:
        if self.draining:
            return Refuse(503, "shutting_down", retry_after=self.retry_after)
        tenant = self._routes.get(dialed)
        if tenant is None:
            return Refuse(404, "unknown_number")
        for reason, condition in self._refusing:
            if condition():
                return Refuse(503, reason, retry_after=self.retry_after)  # the server's, not a tenant's
        version = tenant.current
        if tenant.state != "serving" or version is None:
            return Refuse(503, "tenant_unavailable", tenant.name, self.retry_after)
        flow = version.flow_for(dialed)
        if flow is None:
            return Refuse(404, "unknown_number", tenant.name)
        seats = tenant.seats
        if seats.calls is None:
            if self.pool_active >= self.pool:
                return Refuse(503, "capacity", tenant.name, self.retry_after)
            return Admit(tenant, version, flow, "pool")
        if tenant.calls < seats.calls:
            return Admit(tenant, version, flow, "quota")
        overflow = tenant.overflow_flow
        if (
            overflow is not None
            and tenant.overflow_calls < seats.overflow
            and overflow in version.project.flows
        ):
            return Admit(tenant, version, overflow, "overflow")
        return Refuse(503, "tenant_quota", tenant.name, self.retry_after)

    def enter(self, admit: Admit) -> None:
        admit.tenant.begin(admit.version, overflow=admit.seat == "overflow")
        self.pool_active += admit.seat == "pool"
        self.active += 1
        self.peak = max(self.peak, self.active)

    def leave(self, admit: Admit) -> None:
        admit.tenant.end(admit.version, overflow=admit.seat == "overflow")
        self.pool_active -= admit.seat == "pool"
        self.active -= 1


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
