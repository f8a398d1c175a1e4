"""The examples of docs/channels.md are true: the send node compiles and takes its three
edges, the service's channels pass `ivr check` and resolve, the document renders, the JSON
body is what a `json` gateway gets, and the channel fixtures load."""

from __future__ import annotations

import json
import re
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

from gateways import pdf_text
from trio.testing import MockClock

sys.path.insert(0, str(Path(__file__).parents[2] / "runtime"))

from engine_harness import Harness, flow, heard, project

from ivr.adapters.messaging.documents import parse_document
from ivr.adapters.messaging.pdf import find_cjk_font, render_pdf
from ivr.adapters.messaging.settings import channel_settings
from ivr.adapters.messaging.sms import HttpSmsTransport
from ivr.adapters.messaging.store import StoredMessage
from ivr.flowlang.compile import compile_service
from ivr.flowlang.yamlsource import load_yaml
from ivr.runtime.flowtest.loader import load_fixtures_file
from ivr.runtime.testing import MemoryCallLeg, MemoryChannels, ScriptedDelivery

# the delivery part (the web chat's own section is tests/chat/test_chat_docs.py's)
DOC = (Path(__file__).parents[3] / "docs" / "channels.md").read_text(encoding="utf-8")
DOC = DOC.split("\n## Web chat")[0]
YAML = re.findall(r"```yaml\n(.*?)```", DOC, re.S)
JSON = re.findall(r"```json\n(.*?)```", DOC, re.S)
SEND, SERVICE, DOCUMENT, FIXTURES = YAML


def test_the_doc_has_the_examples_this_test_reads() -> None:
    assert len(YAML) == 4 and len(JSON) == 1


async def test_the_send_example_takes_next_on_pending_and_on_error(autojump_clock: MockClock) -> None:
    nodes = SEND + "".join(
        f"{name}: {{type: hangup, prompt: {{zh: {name}, en: {name}}}}}\n"
        for name in ("email_sent", "will_be_sent", "send_failed")
    )
    text = "flow: doc\nlanguages: [zh, en]\nvariables:\n"
    text += "  statement: {type: map, initial: {email: a@b.c, document: x}}\n"
    text += "start: send_email\nnodes:\n" + textwrap.indent(nodes, "  ")
    sender = flow(text)
    for delivery, ending in [
        (ScriptedDelivery("sent", 5), "email_sent"),
        (ScriptedDelivery("sent", 25), "will_be_sent"),
        (ScriptedDelivery("failed", 1), "send_failed"),
    ]:
        harness = Harness(project(sender), channels=MemoryChannels(deliveries={"email": delivery}))
        leg = MemoryCallLeg()
        await harness.run(leg, "doc")
        assert heard(leg) == [ending]


def test_the_service_example_checks_clean_and_resolves_without_secrets_in_it() -> None:
    loaded = load_yaml(SERVICE, "docs/channels.md")
    service, found = compile_service(loaded.data, loaded.source_map, "docs/channels.md")
    assert service is not None and found == []
    env = {"SMTP_PASSWORD": "pw", "SMS_TOKEN": "tok"}
    settings = {name: channel_settings(decl, env) for name, decl in service.channels.items()}
    assert settings["email"].smtp is not None and settings["email"].smtp.port == 587
    assert settings["fax"].smtp == settings["email"].smtp and settings["fax"].subject == "{number}"
    sms = settings["sms"]
    assert sms.dedupe and sms.http is not None and sms.http.success_equals == "0" and sms.http.token == "tok"
    assert "pw" not in repr(settings) and "tok" not in repr(settings)


def test_the_json_gateway_example_is_the_request_body() -> None:
    loaded = load_yaml(SERVICE, "docs/channels.md")
    service, _ = compile_service(loaded.data, loaded.source_map, "docs/channels.md")
    assert service is not None
    settings = channel_settings(service.channels["sms"], {"SMTP_PASSWORD": "", "SMS_TOKEN": "tok"})
    created = datetime(2026, 11, 27, tzinfo=UTC)
    message = StoredMessage(
        "3f0c…", "sms", "sms", "13900139000", "【95500】您的2026-11对账单已生成", None, created, "sending",
        1, 6, None, None, None, None, None, None,
    )  # fmt: skip
    request = HttpSmsTransport(settings).request(message)
    assert json.loads(request.content) == json.loads(JSON[0])
    assert request.headers["authorization"] == "Bearer tok"


def test_the_document_example_renders() -> None:
    loaded = load_yaml(DOCUMENT, "docs/channels.md")
    text = pdf_text(render_pdf(parse_document(loaded.data), find_cjk_font()))
    assert "对账单 Statement 2026-11" in text and "-149,950.00" in text and "对账单编号 80000001" in text


def test_the_fixtures_example_loads(tmp_path: Path) -> None:
    fixtures_file = tmp_path / "fixtures.yaml"
    fixtures_file.write_text(textwrap.dedent(FIXTURES.split("fixtures:\n", 1)[1]), encoding="utf-8")
    fixtures, problems = load_fixtures_file(str(fixtures_file))
    assert problems == [] and fixtures is not None
    assert fixtures.failing_channels == {"sms"}
    assert fixtures.deliveries == {"email": ScriptedDelivery("sent", 45.0), "fax": ScriptedDelivery("failed")}


def test_the_operating_commands_are_ones_ivr_takes() -> None:
    from ivr.cli import build_parser

    commands = [
        line.split("#", 1)[0].split()[1:]
        for block in re.findall(r"```sh\n(.*?)```", DOC, re.S)
        for line in block.splitlines()
        if line.startswith("ivr messages")
    ]
    assert len(commands) == 6
    parser = build_parser()
    for argv in commands:
        args = parser.parse_args(argv)
        assert args.command == "messages" and args.action in ("list", "show", "retry"), argv
