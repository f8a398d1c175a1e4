"""`OutboxChannels`: the `MessageChannels` port over the durable outbox.

Place: what the engine's `send` steps call (through `CallPorts.channels`). `send` checks the
message for its channel (the channel is declared; the address fits its kind; an SMS is
text of at most `MAX_SMS` characters; a document renders) and writes it to the outbox
before returning its delivery id, so "will be sent" is true when the caller hears it. The
delivery workers (`worker`) send it later and call `settled` after each attempt, which
wakes the calls waiting in `wait_delivery`.

Addresses: sms and fax take 5 to 20 digits with an optional leading "+"; email needs one
"@" with text on both sides.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import trio

from ivr.adapters.messaging.documents import DocumentError, parse_document, plain
from ivr.adapters.messaging.store import MessageStatus, NewMessage, OutboxError, OutboxStore
from ivr.runtime.ports import DeliveryError, DeliveryResult, MessageChannels, MessageOrigin

ADDRESS_RULES = {
    "sms": (re.compile(r"\+?\d{5,20}"), "5 to 20 digits"),
    "fax": (re.compile(r"\+?\d{5,20}"), "5 to 20 digits"),
    "email": (re.compile(r"[^@\s<>,;\"]+@[^@\s<>,;\"]+"), "an address with one @"),
}
KINDS = tuple(ADDRESS_RULES)
MAX_SMS = 1000
MAX_TEXT = 20_000
RESULTS: Mapping[MessageStatus, DeliveryResult | None] = {
    "sent": "sent",
    "dead": "failed",
    "in_doubt": "pending",  # no answer will come without an operator: stop waiting
    "queued": None,
    "sending": None,
    "delivered": "sent",  # a receipt came: it reached the handset
    "failed": "failed",  # a receipt came: the gateway could not deliver it
}


@dataclass(frozen=True)
class ChannelSpec:
    """What `send` needs to know of a channel: its kind and how many attempts it gets."""

    kind: str
    max_attempts: int = 6


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxChannels:
    """Validates and durably queues messages; `settled` wakes waiters after an attempt."""

    def __init__(
        self,
        outbox: OutboxStore,
        channels: Mapping[str, ChannelSpec],
        on_queued: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._outbox = outbox
        self._channels = dict(channels)
        self._on_queued = on_queued or (lambda channel: None)
        self._clock = clock
        self._settled: dict[str, trio.Event] = {}

    def declare(self, name: str, spec: ChannelSpec) -> None:
        """Add or change a channel (a new version of the flows declares it)."""
        self._channels[name] = spec

    async def send(
        self,
        channel: str,
        to: str,
        message: str | None,
        document: object | None,
        *,
        origin: MessageOrigin | None = None,
    ) -> str:
        """Queue the message; its delivery id once it is on disk, or `DeliveryError`."""
        spec = self._channels.get(channel)
        if spec is None:
            raise DeliveryError(f"no channel {channel!r} (the service declares {sorted(self._channels)})")
        to = to.strip()
        content = _checked(channel, spec.kind, to, message, document)
        delivery_id = uuid.uuid4().hex
        new = NewMessage(delivery_id, channel, spec.kind, to, message, content, spec.max_attempts, origin)
        try:
            await self._outbox.add(new, self._clock())
        except OutboxError as exc:
            raise DeliveryError(f"the outbox could not store the message: {exc}") from exc
        self._on_queued(channel)
        return delivery_id

    async def wait_delivery(self, delivery_id: str, timeout: Decimal) -> DeliveryResult:
        """The final result, "pending" after `timeout` s (or at once for one in doubt)."""
        settled = trio.Event()
        try:
            with trio.move_on_after(float(timeout)):
                while True:
                    settled = self._settled.setdefault(delivery_id, trio.Event())
                    result = await self._result(delivery_id)
                    if result is not None:
                        return result
                    await settled.wait()
            return await self._result(delivery_id) or "pending"
        finally:
            if self._settled.get(delivery_id) is settled:
                del self._settled[delivery_id]  # (a second waiter on one id then polls at its end)

    def settled(self, delivery_id: str) -> None:
        """An attempt on `delivery_id` has ended: waiters look at its state again."""
        event = self._settled.pop(delivery_id, None)
        if event is not None:
            event.set()

    async def _result(self, delivery_id: str) -> DeliveryResult | None:
        try:
            status = await self._outbox.status(delivery_id)
        except OutboxError as exc:
            raise DeliveryError(str(exc)) from exc
        if status is None:
            self._settled.pop(delivery_id, None)
            raise DeliveryError(f"no message with delivery id {delivery_id!r}")
        return RESULTS[status]


def _checked(channel: str, kind: str, to: str, message: str | None, document: object | None) -> object | None:
    """The document as it will be stored, once the message fits its channel."""
    pattern, rule = ADDRESS_RULES[kind]
    if not pattern.fullmatch(to):
        raise DeliveryError(f"{to!r} is not a valid {kind} address for channel {channel!r}: need {rule}")
    if message is None and document is None:
        raise DeliveryError(f"nothing to send on channel {channel!r}: no message and no document")
    if kind == "sms":
        if document is not None or not message:
            raise DeliveryError(f"channel {channel!r} sends SMS: text only, no document")
        if len(message) > MAX_SMS:
            raise DeliveryError(f"an SMS holds at most {MAX_SMS} characters; this one has {len(message)}")
        return None
    if message is not None and len(message) > MAX_TEXT:
        raise DeliveryError(f"the message has more than {MAX_TEXT} characters")
    if document is None:
        return None
    try:
        parse_document(document)
        stored = plain(document)
    except DocumentError as exc:
        raise DeliveryError(f"the document cannot be sent on channel {channel!r}: {exc}") from exc
    return stored


def _implements_the_port(channels: OutboxChannels) -> MessageChannels:
    return channels  # mypy checks here that OutboxChannels satisfies the runtime's port
