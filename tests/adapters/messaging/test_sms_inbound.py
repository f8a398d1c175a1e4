"""Reading an SMS gateway's webhook requests (`ivr.adapters.messaging.inbound`): the three
styles' field names, the shared secret or HMAC signature, and which keyword a text gives.
The end-to-end path (a real server and gateway) is tests/hosting/test_serve_sms.py."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from gateways import service

from ivr.adapters.messaging.inbound import InboundSettings, WebhookError, inbound_settings, read_request

CHANNEL = """\
sms:
  kind: sms
  inbound:
    style: {style}
    secret: ${{SECRET}}
    {extra}
    keywords:
      HQ: {{flow: q, args: [code]}}
      TD: {{do_not_call: true, reply: ok}}
      退订: {{do_not_call: true, reply: ok}}
      HQZS: {{reply: index}}
"""


def settings(style: str = "json", extra: str = "", secret: str = "k") -> InboundSettings:
    svc = service(CHANNEL.format(style=style, extra=extra))
    found = inbound_settings(svc.channels["sms"], {"SECRET": secret})
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("text", "word", "args"),
    [
        ("HQ 600519", "HQ", ["600519"]),
        ("hq600519", "HQ", ["600519"]),
        ("  Hq   600519  ", "HQ", ["600519"]),
        ("HQZS", "HQZS", []),  # the longest keyword wins
        ("退订", "退订", []),
        ("td", "TD", []),
        ("hello there", None, ["there"]),
        ("", None, []),
    ],
)
def test_a_text_gives_its_keyword_and_the_words_after_it(
    text: str, word: str | None, args: list[str]
) -> None:
    keyword, words = settings().keyword(text)
    assert (keyword.word if keyword else None, words) == (word, args)


def test_each_style_reads_its_own_field_names() -> None:
    form = settings("form")
    body = b"From=%2B8613900139000&Body=HQ+600519&MessageSid=SM1"
    values = read_request(form, {"x-webhook-secret": "k"}, b"", body)
    assert [values[form.fields[r]] for r in ("from", "text", "id")] == ["+8613900139000", "HQ 600519", "SM1"]
    query = settings("query")
    values = read_request(query, {}, b"mobile=139&content=TD&msgid=7&secret=k", b"")
    assert [values[query.fields[r]] for r in ("from", "text", "id")] == ["139", "TD", "7"]
    assert form.receipt_fields == {"id": "MessageSid", "status": "MessageStatus", "reason": "ErrorCode"}


def test_a_signed_body_is_taken_and_a_wrong_signature_refused() -> None:
    signed = settings(extra="signature: hmac-sha256")
    body = json.dumps({"from": "139", "text": "TD", "id": "1"}).encode()
    good = hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert read_request(signed, {"x-signature": good}, b"", body)["text"] == "TD"
    for headers in ({"x-signature": "00" * 32}, {}, {"x-webhook-secret": "k"}):
        with pytest.raises(WebhookError) as refused:
            read_request(signed, headers, b"", body)
        assert refused.value.status == 401


def test_without_a_secret_the_webhook_is_off() -> None:
    with pytest.raises(WebhookError) as off:
        read_request(settings(secret=""), {"x-webhook-secret": ""}, b"", b"{}")
    assert off.value.status == 503
