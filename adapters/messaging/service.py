"""`open_messaging`: the outbox, its channels and their delivery workers, wired together.

Place: called once per tenant by `ivr serve` (`ivr.adapters.hosting.tenants.Tenant`, on the
tenant's own `outbox.sqlite3`) and by `ivr simulate --deliver`:

    async with open_messaging(layout.outbox, project.service, os.environ) as messaging:
        engine = Engine(project, CallPorts(data, messaging.channels, routing, records))
        await nursery.start(messaging.run)        # the workers
        await messaging.reconfigure(new.service)  # a published version's channels
        messaging.api                              # GET /messages, /messages/{id} (HttpApi)

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
from typing import Protocol

import trio

from ivr.adapters.errors import ConfigError
from ivr.adapters.messaging.channels import KINDS, ChannelSpec, OutboxChannels, utc_now
from ivr.adapters.messaging.http import MessagesApi
from ivr.adapters.messaging.inbound import InboundSettings, inbound_settings
from ivr.adapters.messaging.pdf import find_cjk_font
from ivr.adapters.messaging.settings import ChannelSettings, channel_settings
from ivr.adapters.messaging.store import MessageStatus, OutboxStore, Recovery, open_outbox
from ivr.adapters.messaging.transport import Transport
from ivr.adapters.messaging.worker import DeliveryWorker, Doorbell
from ivr.adapters.postgres.outbox import PostgresOutboxPlace, open_postgres_outbox
from ivr.flowlang.ir import Service

log = logging.getLogger(__name__)

OutboxPlace = Path | str | PostgresOutboxPlace
"""Where an outbox is: a SQLite file, or a PostgreSQL database shared by the instances."""


async def open_outbox_at(place: OutboxPlace) -> OutboxStore:
    """The outbox at `place` (opened, migrated); close it with `aclose`."""
    if isinstance(place, PostgresOutboxPlace):
        return await open_postgres_outbox(place)
    return await open_outbox(place)


class DeliveryObserver(Protocol):
    """Told of each message queued and each attempt's result (the server's metrics)."""

    def queued(self, channel: str) -> None: ...

    def attempted(self, channel: str, status: MessageStatus) -> None: ...


class _Unobserved:
    def queued(self, channel: str) -> None:
        pass

    def attempted(self, channel: str, status: MessageStatus) -> None:
        pass


@dataclass
class _Worker:
    """A channel's worker, its transport (closed when the worker stops) and its cancel scope."""

    worker: DeliveryWorker
    transport: Transport
    scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    started: bool = False


@dataclass
class Messaging:
    """The message side of a process (or of one tenant): `channels` for the engines, `run`
    for the workers, `api` for the HTTP view, `outbox` for operators' tools, `reconfigure`
    when a new version of the flows declares other channels."""

    outbox: OutboxStore
    channels: OutboxChannels
    settings: dict[str, ChannelSettings]
    env: Mapping[str, str] = field(default_factory=dict)
    transports: Mapping[str, Transport] = field(default_factory=dict)
    clock: Callable[[], datetime] = utc_now
    recovery: Recovery = field(default_factory=Recovery)
    bells: dict[str, Doorbell] = field(default_factory=dict)
    _workers: dict[str, _Worker] = field(default_factory=dict)
    observer: DeliveryObserver = field(default_factory=_Unobserved)
    inbound: dict[str, InboundSettings] = field(default_factory=dict)  # sms channels' webhooks
    _nursery: trio.Nursery | None = None
    _reconfiguring: trio.Lock = field(default_factory=trio.Lock)

    @property
    def workers(self) -> list[DeliveryWorker]:
        return [w.worker for w in self._workers.values()]

    @property
    def api(self) -> MessagesApi:
        return MessagesApi(self.outbox)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run every channel's delivery worker until cancelled."""
        async with trio.open_nursery() as nursery:
            for entry in self._workers.values():
                await nursery.start(self._serve, entry)
            self._nursery = nursery
            task_status.started()
            try:
                await trio.sleep_forever()
            finally:
                self._nursery = None

    async def reconfigure(self, service: Service | None) -> None:
        """Take the channels of a new version of the flows: a new channel gets its worker, a
        channel whose settings changed gets a new worker (the old one finishes its attempt
        first), an unchanged one keeps its worker. Channels the new version dropped keep
        theirs, so the messages still queued on them (or sent by calls of the old version)
        are delivered. `ConfigError` (an unset variable, no CJK font) changes nothing.

        The gateways' clients are built in a worker thread: importing and setting up an HTTP
        client (its TLS context) takes a good fraction of a second, which the event loop of a
        server taking calls cannot spare (its overload control would refuse calls)."""
        settings = _settings(service, self.env)
        decls = service.channels.values() if service is not None else ()
        inbound = {d.name: found for d in decls if (found := inbound_settings(d, self.env)) is not None}
        async with self._reconfiguring:
            changed = {n: s for n, s in settings.items() if self.settings.get(n) != s}
            built = await trio.to_thread.run_sync(self._build, changed)
            for name, channel in changed.items():
                self._add(name, channel, built[name])
            self.inbound = inbound

    def _build(self, channels: Mapping[str, ChannelSettings]) -> dict[str, Transport | None]:
        """Each channel's transport (None: no gateway settings); runs in a worker thread."""
        font = _font(channels, self.transports, self.env)
        return {name: self.transports.get(name) or _transport(c, font) for name, c in channels.items()}

    async def aclose(self) -> None:
        """Close the transports of workers that never ran (a running one closes its own)."""
        for entry in self._workers.values():
            if not entry.started:
                await self._close(entry.transport)

    def describe(self) -> list[str]:
        """One line per channel: where its messages go (no secrets), for the start banner."""
        return [f"  channel {name}: {s.kind}, {s.gateway}" for name, s in self.settings.items()]

    def _add(self, name: str, channel: ChannelSettings, transport: Transport | None) -> None:
        self.settings[name] = channel
        self.channels.declare(name, ChannelSpec(channel.kind, channel.retry.attempts))
        bell = self.bells.setdefault(name, Doorbell())
        old = self._workers.pop(name, None)
        if old is not None:
            old.scope.cancel()  # its attempt in progress is shielded: it finishes first
        if transport is None:
            log.warning("channel %s has no gateway settings: its messages wait in the outbox", name)
            return
        worker = DeliveryWorker(
            self.outbox, channel, transport, bell, self.channels.settled, self.clock, self.observer.attempted
        )
        entry = self._workers[name] = _Worker(worker, transport)
        if self._nursery is not None:
            self._nursery.start_soon(self._serve, entry)

    async def _serve(
        self, entry: _Worker, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        entry.started = True
        try:
            with entry.scope:
                async with trio.open_nursery() as nursery:
                    await nursery.start(entry.worker.run)
                    task_status.started()
        finally:
            with trio.CancelScope(shield=True):
                await self._close(entry.transport)

    async def _close(self, transport: Transport) -> None:
        if transport not in self.transports.values():  # the caller's own are theirs to close
            await transport.aclose()


@asynccontextmanager
async def open_messaging(
    path: OutboxPlace,
    service: Service | None,
    env: Mapping[str, str],
    *,
    transports: Mapping[str, Transport] | None = None,
    clock: Callable[[], datetime] = utc_now,
    observer: DeliveryObserver | None = None,
) -> AsyncIterator[Messaging]:
    """The messaging side for `service`'s channels; `transports` replaces the gateways of
    the channels it names (tests use `ivr.adapters.messaging.testing.ScriptedTransport`;
    the caller closes those)."""
    settings = _settings(service, env)
    given = dict(transports or {})
    async with AsyncExitStack() as stack:
        outbox = await open_outbox_at(path)
        stack.push_async_callback(outbox.aclose)
        resend = [name for name, s in settings.items() if s.dedupe]
        recovery = await outbox.recover(resend, clock())
        _log_recovery(recovery)
        bells: dict[str, Doorbell] = {}
        seen = observer or _Unobserved()

        def queued(name: str) -> None:
            bells[name].ring()
            seen.queued(name)

        channels = OutboxChannels(outbox, {}, queued, clock)
        messaging = Messaging(outbox, channels, {}, env, given, clock, recovery, bells, observer=seen)
        stack.push_async_callback(messaging.aclose)
        await messaging.reconfigure(service)
        yield messaging


def _settings(service: Service | None, env: Mapping[str, str]) -> dict[str, ChannelSettings]:
    decls = service.channels if service is not None else {}
    if unknown := sorted(f"{n} ({d.kind})" for n, d in decls.items() if d.kind not in KINDS):
        raise ConfigError(f"unknown channel kind for {', '.join(unknown)}: use sms, email or fax")
    return {name: channel_settings(decl, env) for name, decl in decls.items()}


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
