"""A tenant's SMS webhooks: texts in run its flows, STOP reaches its do-not-call list.

Place: between the hosted HTTP app (`http`, the `/sms/...` routes) and the messaging
adapter's `SmsWebhooks`, which it gives the tenant's parts: the outbox and channels, the
`inbound:` settings of the version new calls get, a runner of that version's flows on a
text leg, and the tenant's do-not-call list. That list is the campaign store's
(`DATA/.../campaigns.sqlite3`, the one every campaign run of the tenant honours): while the
tenant's campaigns run, through their store and the runner's in-memory list (so a run
under way skips the number at once), else by opening the store for the one write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ivr.adapters.hosting.stores import open_campaign_store
from ivr.adapters.hosting.tenants import Tenant
from ivr.adapters.messaging.inbound import WebhookError
from ivr.adapters.messaging.textflow import TextLeg
from ivr.adapters.messaging.webhooks import SmsWebhooks


def sms_webhooks(tenant: Tenant) -> SmsWebhooks:
    """The tenant's webhooks (`WebhookError(503)` while its outbox is not open)."""
    messaging = tenant.messaging
    if messaging is None:
        raise WebhookError(503, f"tenant {tenant.name!r} is {tenant.state}: its messages are not open")
    return SmsWebhooks(
        messaging.outbox,
        messaging.channels,
        messaging.inbound.get,
        _TextFlows(tenant),
        _OptOuts(tenant),
    )


@dataclass
class _TextFlows:
    tenant: Tenant

    async def __call__(self, leg: TextLeg, flow: str, inputs: Mapping[str, object]) -> None:
        tenant = self.tenant
        version = tenant.current
        if version is None or tenant.state != "serving":
            raise WebhookError(503, f"tenant {tenant.name!r} is {tenant.state}: its flows cannot run")
        if flow not in version.project.flows:
            raise WebhookError(503, f"tenant {tenant.name!r} has no flow {flow!r} in version {version.id}")
        tenant.begin(version, overflow=False)
        try:
            await version.engine.run_call(leg, flow, inputs=inputs)
        finally:
            tenant.end(version, overflow=False)


@dataclass
class _OptOuts:
    tenant: Tenant

    async def __call__(self, number: str, source: str) -> None:
        now = datetime.now(UTC)
        running = self.tenant.campaigns
        if running is not None:
            await running.store.add_do_not_call(number, now, source=source)
            running.runner.do_not_call.add(number)  # a run under way skips it at once
            return
        tenant = self.tenant
        async with open_campaign_store(tenant.shared.config, tenant.name, tenant.layout.root) as store:
            await store.add_do_not_call(number, now, source=source)
