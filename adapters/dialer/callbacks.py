"""Queue callbacks in `ivr serve`: the tenant's ACD is opened before its trunks are, so it
calls back through `DialerSlot`, a `Dialer` the outbound side plugs the trunk dialer into
once it is up (`ivr.adapters.dialer.hosting.open_tenant_outbound`).

Place: between the hosting's tenants (`ivr.adapters.hosting.tenants`, which builds the
ACD's `CallbackSettings` with `callback_settings`) and the dialer. Until a dialer is
plugged in (or after it is gone) the slot has no free channel, so a kept place that reaches
an agent is put back to wait (`no_channel`) rather than dialled: callbacks obey the same
idle-capacity rule as campaigns, inbound keeps priority.
"""

from __future__ import annotations

from pathlib import Path

from ivr.adapters.storage.callbacks import SqliteCallbackJournal
from ivr.flowlang.ir import Project
from ivr.runtime.acd.callbacks import CallbackSettings
from ivr.runtime.ports import Answered, Dialer, DialRequest, DialResult


class DialerSlot:
    """A `Dialer` that is the plugged-in dialer, or none (no free channel, calls fail)."""

    def __init__(self) -> None:
        self.dialer: Dialer | None = None

    def plug(self, dialer: Dialer | None) -> None:
        self.dialer = dialer

    def free_channels(self, trunk: str) -> int:
        return 0 if self.dialer is None else self.dialer.free_channels(trunk)

    async def call(self, request: DialRequest, answered: Answered) -> DialResult:
        if self.dialer is None:
            return DialResult("failed", 0, "outbound calling is not running")
        return await self.dialer.call(request, answered)


async def callback_settings(
    project: Project, slot: DialerSlot, journal_file: Path
) -> CallbackSettings | None:
    """Callbacks through the service's first trunk (None when it declares none: then the
    queue plays no callback offer)."""
    service = project.service
    if service is None or not service.trunks:
        return None
    trunk = next(iter(service.trunks))
    return CallbackSettings(slot, await SqliteCallbackJournal.open(journal_file), trunk)


def _implements_the_port(slot: DialerSlot) -> Dialer:
    return slot  # mypy checks here that the slot satisfies the runtime's port
