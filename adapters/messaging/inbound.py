"""What an SMS gateway posts to us: texts customers send, and delivery receipts.

Place: read by the webhooks (`ivr.adapters.messaging.webhooks`) from a `kind: sms`
channel's `inbound:` settings (the service file, docs/channels.md). A gateway calls back
in the shape it sends in (`style`, the same three as the outbound adapter):

    style   request                                  names of from, text, id / a receipt's id, status, reason
    json    POST, a JSON object                      from, text, id / id, status, reason
    form    POST, application/x-www-form-urlencoded  From, Body, MessageSid / MessageSid, MessageStatus,
                                                     ErrorCode (Twilio-like)
    query   GET (or POST) with URL parameters        mobile, content, msgid / msgid, status, reason

Authentication (a request that fails it gets 401, and nothing else is looked at):
`secret:` (a `${VARIABLE}`) given as the `X-Webhook-Secret` header or the `secret` URL
parameter; or, with `signature: hmac-sha256`, the hex HMAC-SHA256 of the request body under
the secret in the `X-Signature` header (`signature_header:` renames it). An empty secret
refuses every request (503): the webhooks are off until it is set.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, cast
from urllib.parse import parse_qs

from ivr.adapters.errors import AdapterError, ConfigError
from ivr.adapters.messaging.settings import SmsStyle, resolve
from ivr.flowlang.ir import ChannelDecl, SmsKeyword

Signature = Literal["none", "hmac-sha256"]
MAX_BODY = 64 * 1024
MESSAGE_FIELDS: Mapping[SmsStyle, Mapping[str, str]] = {
    "json": {"from": "from", "text": "text", "id": "id"},
    "form": {"from": "From", "text": "Body", "id": "MessageSid"},
    "query": {"from": "mobile", "text": "content", "id": "msgid"},
}
RECEIPT_FIELDS: Mapping[SmsStyle, Mapping[str, str]] = {
    "json": {"id": "id", "status": "status", "reason": "reason"},
    "form": {"id": "MessageSid", "status": "MessageStatus", "reason": "ErrorCode"},
    "query": {"id": "msgid", "status": "status", "reason": "reason"},
}
DELIVERED = ("delivered", "DELIVRD", "success")
FAILED = ("failed", "undelivered", "UNDELIV", "EXPIRED", "REJECTD", "DELETED", "UNKNOWN", "error")
DEFAULT_HELP = "Send HQ and a six-digit code for a quote, or STOP to opt out."


class WebhookError(AdapterError):
    """A request the webhook refuses: `status` (4xx, or 503 while it is off) and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class InboundSettings:
    """One sms channel's webhooks: request shape, authentication, keyword table, receipts."""

    channel: str
    style: SmsStyle
    secret: str = field(repr=False)
    signature: Signature = "none"
    signature_header: str = "X-Signature"
    fields: Mapping[str, str] = field(default_factory=dict)
    receipt_fields: Mapping[str, str] = field(default_factory=dict)
    delivered: frozenset[str] = frozenset(s.lower() for s in DELIVERED)
    failed: frozenset[str] = frozenset(s.lower() for s in FAILED)
    keywords: tuple[SmsKeyword, ...] = ()
    help: str = DEFAULT_HELP

    def keyword(self, text: str) -> tuple[SmsKeyword | None, list[str]]:
        """The command a text gives and the words after it: `HQ 600519`, `hq600519` and
        `退订` all work (the longest keyword the text starts with, without regard to case)."""
        words = text.split()
        if not words:
            return None, []
        upper = text.strip().upper()
        for keyword in sorted(self.keywords, key=lambda k: -len(k.word)):
            word = keyword.word.upper()
            if words[0].upper() == word:
                return keyword, words[1:]
            if upper.startswith(word):
                return keyword, upper[len(word) :].split()
        return None, words[1:]


def inbound_settings(decl: ChannelDecl, env: Mapping[str, str]) -> InboundSettings | None:
    """The channel's webhook settings (None without `inbound:`); `ConfigError` for an unset
    `${VARIABLE}`."""
    section = decl.config.get("inbound")
    if decl.kind != "sms" or not isinstance(section, Mapping):
        return None
    where = f"channel '{decl.name}': inbound."
    style = cast(SmsStyle, str(section.get("style", "json")))
    receipt = section.get("receipt")
    receipt = receipt if isinstance(receipt, Mapping) else {}

    def names(value: object, defaults: Mapping[str, str]) -> dict[str, str]:
        given = value if isinstance(value, Mapping) else {}
        return {**defaults, **{str(k): str(v) for k, v in given.items()}}

    def words(value: object, default: tuple[str, ...]) -> frozenset[str]:
        return frozenset(str(v).lower() for v in (value if isinstance(value, list) else default))

    signature = cast(Signature, str(section.get("signature", "none")))
    if signature == "hmac-sha256" and style == "query":
        raise ConfigError(f"{where}signature: hmac-sha256 signs a request body; the query style has none")
    return InboundSettings(
        channel=decl.name,
        style=style,
        secret=resolve(str(section.get("secret", "")), env, f"{where}secret"),
        signature=signature,
        signature_header=str(section.get("signature_header", "X-Signature")),
        fields=names(section.get("fields"), MESSAGE_FIELDS[style]),
        receipt_fields=names(receipt.get("fields"), RECEIPT_FIELDS[style]),
        delivered=words(receipt.get("delivered"), DELIVERED),
        failed=words(receipt.get("failed"), FAILED),
        keywords=decl.keywords,
        help=str(section.get("help", DEFAULT_HELP)),
    )


def read_request(
    settings: InboundSettings, headers: Mapping[str, str], query: bytes, body: bytes
) -> dict[str, str]:
    """The request's values once it is authenticated (`WebhookError` otherwise); `headers`
    with lower-case names."""
    if not settings.secret:
        raise WebhookError(503, f"channel {settings.channel!r} has no inbound secret set: the webhook is off")
    params = _pairs(query, "the query string")
    _authenticate(settings, headers, params, body)
    if settings.style == "query" and not body.strip():
        return params
    content_type = headers.get("content-type", "").split(";")[0].strip().lower()
    if settings.style == "json" or content_type == "application/json":
        return _json_object(body)
    return _pairs(body, "the body")


def _authenticate(
    settings: InboundSettings, headers: Mapping[str, str], params: Mapping[str, str], body: bytes
) -> None:
    secret = settings.secret.encode()
    if settings.signature == "hmac-sha256":
        given = headers.get(settings.signature_header.lower(), "").strip().lower()
        expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookError(401, f"the {settings.signature_header} header is missing or wrong")
        return
    given = headers.get("x-webhook-secret") or params.get("secret") or ""
    if not given or not hmac.compare_digest(given.encode(), secret):
        raise WebhookError(401, "give the webhook's secret (the X-Webhook-Secret header or ?secret=)")


def _json_object(body: bytes) -> dict[str, str]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise WebhookError(400, f"send a JSON object ({exc})") from None
    if not isinstance(data, dict):
        raise WebhookError(400, "send a JSON object")
    return {str(k): _text(v) for k, v in data.items() if v is not None}


def _text(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)


def _pairs(raw: bytes, what: str) -> dict[str, str]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookError(400, f"{what} is not UTF-8") from None
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def required(values: Mapping[str, str], settings_names: Mapping[str, str], role: str) -> str:
    """The value of field `role` (under the gateway's name for it), or a 400."""
    name = settings_names[role]
    value = values.get(name, "").strip()
    if not value:
        raise WebhookError(400, f"the request has no {name!r} (the {role})")
    return value
