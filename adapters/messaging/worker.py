"""`DeliveryWorker`: drains one channel's outbox through its transport, with retries.

Place: started by `Messaging.run` (inside `ivr serve`, or `ivr simulate --deliver`), one per
channel that has a gateway, with `concurrency` loops. A loop claims the oldest due message
(durably `sending`, attempt counted), lets the transport try once, and records the result:

    sent      -> sent
    failed    -> dead (refused for good)
    retry     -> queued again after the back-off (`RetryPolicy`), or dead when the attempts
                 are used up ("gave up after N attempts: <last error>")
    in_doubt  -> on a channel whose gateway deduplicates (`dedupe: true`) treated as retry;
                 else in_doubt: never resent without an operator (`ivr messages retry`)

A claim and its attempt are shielded from cancellation together (bounded by the channel's
`timeout`), so a shutdown lets an attempt finish and records its outcome instead of leaving
the message `sending`. An outbox that cannot be read is logged and tried again after `POLL`.
A bug in a transport is logged and counted as a retry (in doubt after the hand-over), so
one bad message never stops a channel. Idle loops sleep until the next message is due, a new one
is queued (`Doorbell`), or `POLL` seconds pass (messages an operator requeued).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import trio

from ivr.adapters.messaging.settings import ChannelSettings
from ivr.adapters.messaging.store import MessageStatus, OutboxError, OutboxStore, StoredMessage
from ivr.adapters.messaging.transport import Attempt, Transport

log = logging.getLogger(__name__)
POLL = 5.0
GRACE = 1.0  # beyond the transport's own timeout, before the worker stops waiting for it


class Doorbell:
    """Wakes every idle loop of a channel when a message is queued."""

    def __init__(self) -> None:
        self._event = trio.Event()

    def ring(self) -> None:
        self._event.set()
        self._event = trio.Event()

    async def wait(self, timeout: float) -> None:
        event = self._event
        with trio.move_on_after(max(0.0, timeout)):
            await event.wait()


class DeliveryWorker:
    def __init__(
        self,
        outbox: OutboxStore,
        settings: ChannelSettings,
        transport: Transport,
        doorbell: Doorbell,
        settled: Callable[[str], None],
        clock: Callable[[], datetime],
        attempted: Callable[[str, MessageStatus], None] = lambda channel, status: None,
    ) -> None:
        self.settings = settings
        self._outbox = outbox
        self._transport = transport
        self._doorbell = doorbell
        self._settled = settled
        self._attempted = attempted  # (channel, what the message became): for metrics
        self._clock = clock

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(max(1, self.settings.concurrency)):
                nursery.start_soon(self._loop)
            task_status.started()

    async def _loop(self) -> None:
        while True:
            with trio.CancelScope(shield=True):  # a claimed message always gets its attempt
                message = await self._claim()
                if message is not None:
                    await self._attempt(message)
                    continue
            await self._idle()

    async def _claim(self) -> StoredMessage | None:
        try:
            return await self._outbox.claim(self.settings.name, self._clock())
        except OutboxError as exc:
            log.error("channel %s: %s (trying again within %.0f s)", self.settings.name, exc, POLL)
            return None

    async def _idle(self) -> None:
        try:
            due = await self._outbox.next_due(self.settings.name)
        except OutboxError:
            due = None  # `_claim` logged it
        wait = POLL if due is None else min(POLL, (due - self._clock()).total_seconds())
        await self._doorbell.wait(wait)

    async def _attempt(self, message: StoredMessage) -> None:
        handed_over = False

        async def handoff() -> None:
            nonlocal handed_over
            await self._outbox.mark_handoff(message.delivery_id, message.attempts, self._clock())
            handed_over = True

        try:
            with trio.fail_after(self.settings.timeout + GRACE):
                attempt = await self._transport.deliver(message, handoff)
        except trio.TooSlowError:
            attempt = _unfinished(handed_over, f"no answer within {self.settings.timeout + GRACE:g} s")
        except OutboxError as exc:  # the hand-over could not be recorded: nothing left the process
            attempt = Attempt.of("retry", f"the outbox could not record the hand-over: {exc}")
        except Exception as exc:
            log.exception(
                "channel %s: delivery %s failed unexpectedly", self.settings.name, message.delivery_id
            )
            attempt = _unfinished(handed_over, f"unexpected error: {type(exc).__name__}: {exc}")
        await self._record(message, attempt)

    async def _record(self, message: StoredMessage, attempt: Attempt) -> None:
        status, detail, due = self._decide(message, attempt)
        now = self._clock()
        try:
            await self._outbox.finish(
                message.delivery_id,
                message.attempts,
                status=status,
                outcome=attempt.outcome,
                detail=attempt.detail,
                now=now,
                error=None if status == "sent" else detail,
                next_attempt_at=due,
                gateway_ref=attempt.gateway_ref,
            )
        except OutboxError as exc:  # left `sending`: the next start settles it (`Outbox.recover`)
            log.error("channel %s: delivery %s: %s", self.settings.name, message.delivery_id, exc)
        self._settled(message.delivery_id)
        self._attempted(self.settings.name, status)
        level = logging.INFO if status in ("sent", "queued") else logging.WARNING
        log.log(
            level,
            "channel %s: delivery %s attempt %d/%d: %s -> %s: %s",
            self.settings.name, message.delivery_id, message.attempts, message.max_attempts,
            attempt.outcome, status, detail,
        )  # fmt: skip

    def _decide(self, message: StoredMessage, attempt: Attempt) -> tuple[MessageStatus, str, datetime | None]:
        outcome = attempt.outcome
        if outcome == "in_doubt" and self.settings.dedupe:
            outcome = "retry"  # the gateway drops a second copy with the same reference
        match outcome:
            case "sent":
                return "sent", attempt.detail, None
            case "failed":
                return "dead", attempt.detail, None
            case "in_doubt":
                return "in_doubt", attempt.detail, None
            case "retry":
                if message.attempts >= message.max_attempts:
                    return "dead", f"gave up after {message.attempts} attempts: {attempt.detail}", None
                delay = self.settings.retry.delay(message.attempts)
                return "queued", attempt.detail, self._clock() + timedelta(seconds=delay)


def _unfinished(handed_over: bool, detail: str) -> Attempt:
    return Attempt.of("in_doubt" if handed_over else "retry", detail)
