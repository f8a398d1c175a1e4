"""`open_messaging`: the outbox, its channels and their delivery workers, wired together.

Place: called by the composition roots (`ivr serve`, `ivr simulate --deliver`):

    async with open_messaging(data_dir / "outbox.sqlite3", project.service, os.environ) as messaging:
        engine = Engine(project, CallPorts(data, messaging.channels, routing, records))
        await nursery.start(messaging.run)        # the workers
        app = mount_messages(app, messaging.api)  # GET /messages, /messages/{id}

On opening it reads each channel's settings (`ConfigError` for an unset `${VARIABLE}` or,
when a channel sends PDFs, a machine without a CJK font), opens the outbox and settles the
messages a stopped process left `sending` (`Outbox.recover`), before any call can queue one.
A channel without gateway settings keeps its messages queued (logged once at start).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import trio

from ivr.adapters.errors import ConfigError
from ivr.adapters.messaging.channels import KINDS, ChannelSpec, OutboxChannels, utc_now
from ivr.adapters.messaging.http import MessagesApi
from ivr.adapters.messaging.pdf import find_cjk_font
from ivr.adapters.messaging.settings import ChannelSettings, channel_settings
from ivr.adapters.messaging.store import Outbox, Recovery, open_outbox
from ivr.adapters.messaging.transport import Transport
from ivr.adapters.messaging.worker import DeliveryWorker, Doorbell
from ivr.flowlang.ir import Service

log = logging.getLogger(__name__)


@dataclass
class Messaging:
    """The message side of a process: `channels` for the engine, `run` for the workers,
    `api` for the HTTP view, `outbox` for operators' tools."""

    outbox: Outbox
    channels: OutboxChannels
    settings: Mapping[str, ChannelSettings]
    workers: list[DeliveryWorker] = field(default_factory=list)
    recovery: Recovery = field(default_factory=Recovery)

    @property
    def api(self) -> MessagesApi:
        return MessagesApi(self.outbox)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run every channel's delivery worker until cancelled."""
        async with trio.open_nursery() as nursery:
            for worker in self.workers:
                await nursery.start(worker.run)
            task_status.started()

    def describe(self) -> list[str]:
        """One line per channel: where its messages go (no secrets), for the start banner."""
        return [f"  channel {name}: {s.kind}, {s.gateway}" for name, s in self.settings.items()]


@asynccontextmanager
async def open_messaging(
    path: Path | str,
    service: Service | None,
    env: Mapping[str, str],
    *,
    transports: Mapping[str, Transport] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> AsyncIterator[Messaging]:
    """The messaging side for `service`'s channels; `transports` replaces the gateways of
    the channels it names (tests use `ivr.adapters.messaging.testing.ScriptedTransport`)."""
    decls = service.channels if service is not None else {}
    if unknown := sorted(f"{n} ({d.kind})" for n, d in decls.items() if d.kind not in KINDS):
        raise ConfigError(f"unknown channel kind for {', '.join(unknown)}: use sms, email or fax")
    settings = {name: channel_settings(decl, env) for name, decl in decls.items()}
    given = dict(transports or {})
    font = _font(settings, given, env)
    async with AsyncExitStack() as stack:
        outbox = await open_outbox(path)
        stack.push_async_callback(outbox.aclose)
        resend = [name for name, s in settings.items() if s.dedupe]
        recovery = await outbox.recover(resend, clock())
        _log_recovery(recovery)
        bells = {name: Doorbell() for name in settings}
        specs = {name: ChannelSpec(s.kind, s.retry.attempts) for name, s in settings.items()}
        channels = OutboxChannels(outbox, specs, lambda name: bells[name].ring(), clock)
        messaging = Messaging(outbox, channels, settings, recovery=recovery)
        for name, s in settings.items():
            transport = given.get(name) or _transport(s, font)
            if transport is None:
                log.warning("channel %s has no gateway settings: its messages wait in the outbox", name)
                continue
            stack.push_async_callback(transport.aclose)
            worker = DeliveryWorker(outbox, s, transport, bells[name], channels.settled, clock)
            messaging.workers.append(worker)
        yield messaging


def _transport(settings: ChannelSettings, font: Path | None) -> Transport | None:
    from ivr.adapters.messaging.sms import HttpSmsTransport
    from ivr.adapters.messaging.smtp import MailTransport

    if settings.kind in ("email", "fax") and settings.smtp is not None and font is not None:
        return MailTransport(settings, font)
    if settings.kind == "sms" and settings.http is not None:
        return HttpSmsTransport(settings)
    return None


def _font(
    settings: Mapping[str, ChannelSettings], given: Mapping[str, Transport], env: Mapping[str, str]
) -> Path | None:
    """The PDF font, needed when a mail or fax channel really sends."""
    mails = [n for n, s in settings.items() if s.kind in ("email", "fax") and s.smtp and n not in given]
    return find_cjk_font(env) if mails else None


def _log_recovery(recovery: Recovery) -> None:
    if recovery.requeued:
        log.warning(
            "outbox: %d message(s) left sending by the last run are queued again", len(recovery.requeued)
        )
    for delivery_id in recovery.in_doubt:
        log.warning(
            "outbox: delivery %s was being handed to its gateway when the last run stopped: it may have "
            "been sent, so it is not resent (in_doubt); check, then `ivr messages retry %s` if it never came",
            delivery_id,
            delivery_id,
        )
