"""`SmsWebhooks`: the SMS gateway's calls to us, texts in and delivery receipts.

Place: the tenant's (one per outbox); the hosted HTTP app routes `/sms/{channel}/inbound`
and `/sms/{channel}/receipt` (hosted: `/tenants/{t}/sms/...`) here with the raw request.

A text in (`inbound`):
    authenticate (401) ─► read from, text, id (400 when missing or bad) ─► note it by the
    gateway's id in the outbox (seen before: 200 "duplicate", nothing more: a retried
    webhook never answers twice) ─► its keyword (`InboundSettings.keyword`):
        flow         run the flow on the tenant's engine as a text conversation (`TextLeg`)
        do_not_call  the sender goes on the do-not-call list every campaign honours
        reply        a fixed answer;    no keyword: the help text
    ─► the reply queued in the outbox on the same channel (so it goes back through the
       gateway, with retries) ─► 200 {"keyword", "reply": its delivery id}
If the answer cannot be made (the tenant's flows are not running), the note is taken back
and the gateway gets 503, so its retry is answered later.

A receipt (`receipt`): the message the gateway names (its id, or our reference) becomes
`delivered`, or `failed` with the gateway's reason; an unknown id is logged and ignored
(200, so the gateway stops sending it); a status that is neither (an intermediate
`sent`, `queued`) is ignored.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ivr.adapters.messaging.channels import ADDRESS_RULES, MAX_SMS, OutboxChannels, utc_now
from ivr.adapters.messaging.inbound import InboundSettings, WebhookError, read_request, required
from ivr.adapters.messaging.store import OutboxStore
from ivr.adapters.messaging.textflow import TextLeg
from ivr.flowlang.ir import SmsKeyword
from ivr.runtime.ports import DeliveryError, MessageOrigin

log = logging.getLogger(__name__)
Answer = tuple[int, dict[str, object]]


class TextFlows(Protocol):
    """Runs a flow of the tenant's current version on a text leg (`WebhookError(503)` when
    the tenant serves no flows)."""

    async def __call__(self, leg: TextLeg, flow: str, inputs: Mapping[str, object]) -> None: ...


class OptOuts(Protocol):
    """Puts a number on the tenant's do-not-call list (durably, before returning)."""

    async def __call__(self, number: str, source: str) -> None: ...


@dataclass
class SmsWebhooks:
    outbox: OutboxStore
    channels: OutboxChannels
    settings: Callable[[str], InboundSettings | None]  # a channel's, as the current version says
    flows: TextFlows
    opt_out: OptOuts
    clock: Callable[[], datetime] = utc_now

    async def inbound(self, channel: str, headers: Mapping[str, str], query: bytes, body: bytes) -> Answer:
        try:
            return await self._inbound(self._settings(channel), headers, query, body)
        except WebhookError as exc:
            return exc.status, {"error": str(exc)}

    async def receipt(self, channel: str, headers: Mapping[str, str], query: bytes, body: bytes) -> Answer:
        try:
            return await self._receipt(self._settings(channel), headers, query, body)
        except WebhookError as exc:
            return exc.status, {"error": str(exc)}

    def _settings(self, channel: str) -> InboundSettings:
        settings = self.settings(channel)
        if settings is None:
            raise WebhookError(404, f"channel {channel!r} takes no texts (no `inbound:` on an sms channel)")
        return settings

    async def _inbound(
        self, s: InboundSettings, headers: Mapping[str, str], query: bytes, body: bytes
    ) -> Answer:
        values = read_request(s, headers, query, body)
        sender = required(values, s.fields, "from")
        text = values.get(s.fields["text"], "").strip()
        gateway_id = required(values, s.fields, "id")
        if not ADDRESS_RULES["sms"][0].fullmatch(sender):
            raise WebhookError(400, f"{s.fields['from']!r} is not a phone number: need 5 to 20 digits")
        if len(text) > MAX_SMS or len(gateway_id) > 200:
            raise WebhookError(400, f"the text holds at most {MAX_SMS} characters, the id 200")
        if not await self.outbox.note_inbound(s.channel, gateway_id, sender, text, self.clock()):
            log.info(
                "sms %s: text %s came again (a retried webhook): already answered", s.channel, gateway_id
            )
            return 200, {"duplicate": True}
        keyword, words = s.keyword(text)
        try:
            reply, origin = await self._answer(s, keyword, words, sender, gateway_id)
        except BaseException:
            await self.outbox.forget_inbound(s.channel, gateway_id)  # the gateway's retry tries again
            raise
        try:
            reply_id = await self.channels.send(s.channel, sender, reply[:MAX_SMS], None, origin=origin)
        except DeliveryError as exc:
            log.error("sms %s: the reply to text %s could not be queued: %s", s.channel, gateway_id, exc)
            reply_id = None
        word = keyword.word if keyword else None
        await self.outbox.inbound_answered(s.channel, gateway_id, word, reply_id)
        log.info("sms %s: text %s (%s) answered: reply %s", s.channel, gateway_id, word or "help", reply_id)
        return 200, {"keyword": word, "reply": reply_id}

    async def _answer(
        self, s: InboundSettings, keyword: SmsKeyword | None, words: list[str], sender: str, gateway_id: str
    ) -> tuple[str, MessageOrigin | None]:
        if keyword is None:
            return s.help, None
        if keyword.do_not_call:
            await self.opt_out(sender, f"sms:{s.channel}:{gateway_id}")
            log.info("sms %s: %s opted out (text %s): on the do-not-call list", s.channel, sender, gateway_id)
        if keyword.flow is None:
            return keyword.reply or s.help, None
        leg = TextLeg(uuid.uuid4().hex, sender, s.channel)
        inputs = {name: words[i] if i < len(words) else "" for i, name in enumerate(keyword.args)}
        await self.flows(leg, keyword.flow, inputs)
        return leg.reply or s.help, MessageOrigin(leg.call_id, keyword.flow, "reply")

    async def _receipt(
        self, s: InboundSettings, headers: Mapping[str, str], query: bytes, body: bytes
    ) -> Answer:
        values = read_request(s, headers, query, body)
        reference = required(values, s.receipt_fields, "id")
        status = required(values, s.receipt_fields, "status")
        reason = values.get(s.receipt_fields["reason"], "").strip() or None
        if status.lower() in s.delivered:
            delivered = True
        elif status.lower() in s.failed:
            delivered = False
        else:
            return 200, {"ignored": f"status {status!r} is neither delivered nor failed"}
        detail = (
            None
            if delivered
            else f"the gateway could not deliver it: {status}" + (f" ({reason})" if reason else "")
        )
        found = await self.outbox.receipt(
            s.channel, reference, delivered=delivered, reason=detail, now=self.clock()
        )
        if found is None:
            log.warning(
                "sms %s: a receipt for unknown message %r (%s): ignored", s.channel, reference, status
            )
            return 200, {"ignored": f"no message {reference!r}"}
        log.info("sms %s: delivery %s %s by receipt", s.channel, found.delivery_id, found.status)
        return 200, {"message": found.delivery_id, "status": found.status}
