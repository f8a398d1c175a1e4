"""The inbound SMS examples of docs/channels.md are true: the service's keyword table checks
clean and resolves, the posted text is read (with its secret) and gives the keyword the doc
says, and the receipt example names a failed delivery with its reason."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ivr.adapters.messaging.inbound import InboundSettings, inbound_settings, read_request
from ivr.flowlang.compile import compile_service
from ivr.flowlang.yamlsource import load_yaml

DOC = (Path(__file__).parents[3] / "docs" / "channels.md").read_text(encoding="utf-8")
[SERVICE] = re.findall(r"```yaml sms-inbound\n(.*?)```", DOC, re.S)
[TEXT] = re.findall(r"```json sms-inbound\n(.*?)```", DOC, re.S)
[RECEIPT] = re.findall(r"```json sms-receipt\n(.*?)```", DOC, re.S)
ENV = {"SMS_TOKEN": "tok", "SMS_INBOUND_SECRET": "s3cret"}


def settings() -> InboundSettings:
    loaded = load_yaml(SERVICE, "docs/channels.md")
    service, found = compile_service(loaded.data, loaded.source_map, "docs/channels.md")
    assert service is not None and found == []
    inbound = inbound_settings(service.channels["sms"], ENV)
    assert inbound is not None
    return inbound


def test_the_keyword_example_checks_clean_and_resolves() -> None:
    inbound = settings()
    assert inbound.style == "json" and inbound.secret == "s3cret" and "s3cret" not in repr(inbound)
    words = {k.word: (k.flow, k.args, k.do_not_call) for k in inbound.keywords}
    assert words["HQ"] == ("sms_quote", ("code",), False)
    assert all(words[w][2] for w in ("TD", "STOP", "退订"))


def test_the_posted_text_gives_the_keyword_and_its_input() -> None:
    inbound = settings()
    values = read_request(inbound, {"x-webhook-secret": "s3cret"}, b"", TEXT.encode())
    assert values == json.loads(TEXT)
    keyword, words = inbound.keyword(values["text"])
    assert keyword is not None and keyword.word == "HQ" and words == ["600519"]


def test_the_receipt_example_reads_as_a_failure_with_its_reason() -> None:
    inbound = settings()
    values = read_request(inbound, {"x-webhook-secret": "s3cret"}, b"", RECEIPT.encode())
    fields = inbound.receipt_fields
    assert values[fields["status"]].lower() in inbound.failed
    assert values[fields["reason"]] == "absent subscriber"
