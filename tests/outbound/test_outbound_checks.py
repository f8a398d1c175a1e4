"""`ivr check` of outbound parts: trunks and campaigns in the service file, outbound flows
(contact fields, campaign, dispositions), and campaigns against their contact lists."""

from __future__ import annotations

import textwrap
from decimal import Decimal
from pathlib import Path

from ivr.flowlang.compile.outbound import parse_delay
from ivr.flowlang.compile.service import build_service
from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.ir import Service
from ivr.flowlang.project import load_project
from ivr.flowlang.yamlsource import load_yaml

HEAD = "service: s\nlanguages: [en]\n"
TRUNK = """\
trunks:
  carrier:
    gateway: 127.0.0.1:5090
    channels: 10
    reserve: 2
    caller_id: "95500"
"""

FLOW = """\
flow: reminder
languages: [en]
outbound:
  contact:
    name: {type: string}
    amount: {type: number}
    note: {type: string, required: false}
  dispositions: [promised, refused]
start: hello
nodes:
  hello:
    type: menu
    prompt: "Hello {contact.name}, you owe {contact.amount}. Press 1 to pay, 9 to stop these calls."
    options:
      "1": promise
      "9": opt_out
    on_no_input: bye
    on_no_match: bye
  promise:
    type: set
    assign: {disposition: "'promised'"}
    next: bye
  opt_out:
    type: set
    assign: {disposition: "'opted_out'"}
    next: bye
  bye:
    type: hangup
    prompt: "Goodbye, attempt {campaign.attempt} of {campaign.name}, {call.direction}."
"""


def service(body: str) -> tuple[Service | None, list[Diagnostic]]:
    text = HEAD + textwrap.dedent(body)
    loaded = load_yaml(text, "service.yaml")
    return build_service(loaded.data, loaded.source_map, "service.yaml")


def codes(found: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.col) for d in found]


def project(tmp_path: Path, service_body: str, flow: str = FLOW, csv: str | None = None) -> list[Diagnostic]:
    (tmp_path / "service.yaml").write_text(HEAD + textwrap.dedent(service_body))
    (tmp_path / "reminder.yaml").write_text(flow)
    if csv is not None:
        (tmp_path / "contacts.csv").write_text(csv)
    _, found = load_project([tmp_path])
    return found


CAMPAIGN = (
    TRUNK
    + """\
campaigns:
  june:
    flow: reminder
    trunk: carrier
    contacts: {csv: contacts.csv}
"""
)


def test_a_trunk_and_campaign_compile_with_their_settings_and_defaults() -> None:
    built, found = service(
        TRUNK
        + """\
    auth: {username: ivr, password_env: IVR_CARRIER_PASSWORD}
    register: {expires: 120s}
campaigns:
  june:
    flow: reminder
    trunk: carrier
    contacts: {csv: contacts.csv, number: mobile, timezone: tz}
    pacing: {max_concurrent: 8, calls_per_second: 2.5}
    retries:
      busy: {after: 10m, times: 2}
      no_answer: {after: 1h, times: 1}
    machine: leave_message
"""
    )
    assert found == []
    assert built is not None
    trunk = built.trunks["carrier"]
    assert (trunk.gateway, trunk.transport, trunk.channels, trunk.reserve, trunk.caller_id) == (
        "127.0.0.1:5090",
        "udp",
        10,
        2,
        "95500",
    )
    assert trunk.auth is not None and trunk.auth.password_env == "IVR_CARRIER_PASSWORD"
    assert trunk.register and trunk.register_expires == 120
    campaign = built.campaigns["june"]
    assert (campaign.contacts.number, campaign.contacts.timezone) == ("mobile", "tz")
    assert (campaign.max_concurrent, campaign.calls_per_second) == (8, Decimal("2.5"))
    assert campaign.retries["busy"].after == 600 and campaign.retries["busy"].times == 2
    assert campaign.retries["no_answer"].after == 3600
    assert "machine" not in campaign.retries
    assert campaign.machine == "leave_message" and campaign.detect_machines
    assert campaign.ring_timeout == 30


def test_a_reserve_that_leaves_no_outbound_channel_is_an_error_at_the_reserve() -> None:
    _, found = service("trunks:\n  t: {gateway: 10.0.0.1, channels: 4, reserve: 4}\n")
    assert codes(found) == [("FL701", 4, 48)]


def test_a_gateway_that_is_no_address_is_a_positioned_format_error() -> None:
    _, found = service("trunks:\n  t: {gateway: 'sip:carrier example', channels: 4}\n")
    [d] = found
    assert (d.code, d.span.line) == ("FL112", 4)
    assert d.hint is not None and "host:port" in d.hint


def test_a_password_written_into_the_file_is_refused() -> None:
    _, found = service(
        "trunks:\n  t:\n    gateway: 10.0.0.1\n    channels: 4\n    auth: {username: u, password: s3cret}\n"
    )
    assert sorted(d.code for d in found) == ["FL101", "FL102"]
    assert all(d.span.line == 7 for d in found)
    assert not any("s3cret" in d.message for d in found)


def test_a_campaign_on_an_unknown_trunk_or_calendar_says_which_exist() -> None:
    _, found = service(
        TRUNK
        + """\
campaigns:
  june:
    flow: reminder
    trunk: carier
    contacts: {csv: c.csv}
    window: {calendar: office, timezone: Beijing}
"""
    )
    assert codes(found) == [("FL703", 12, 12), ("FL604", 14, 24), ("FL616", 14, 42)]
    assert found[0].hint == "did you mean 'carrier'?"
    assert found[2].hint == "write the zone database name: Asia/Shanghai"


def test_contacts_need_exactly_one_source() -> None:
    for contacts in ("{number: phone}", "{csv: a.csv, query: SELECT 1, database: x.db}", "{query: SELECT 1}"):
        _, found = service(TRUNK + f"campaigns:\n  c: {{flow: f, trunk: carrier, contacts: {contacts}}}\n")
        assert [d.code for d in found] == ["FL702"], contacts


def test_retry_delays_take_hours_and_days_and_refuse_words() -> None:
    assert parse_delay("2h") == 7200 and parse_delay("1d") == 86400 and parse_delay(90) == 90
    _, found = service(CAMPAIGN + "    retries: {busy: {after: soon, times: 1}}\n")
    [d] = found
    assert d.code == "FL104" and "delay" in d.message


def test_more_concurrency_than_the_trunk_gives_is_a_warning() -> None:
    _, found = service(CAMPAIGN + "    pacing: {max_concurrent: 9}\n")
    [d] = found
    assert (d.code, d.severity.label) == ("FL712", "warning")
    assert d.hint == "max_concurrent: 8 or less"


def test_an_outbound_flow_reads_contact_campaign_and_direction_and_sets_its_dispositions(
    tmp_path: Path,
) -> None:
    found = project(tmp_path, CAMPAIGN, csv="phone,name,amount\n13800138000,Li,12.5\n")
    assert found == []


def test_reading_an_undeclared_contact_field_is_an_error_with_the_fields(tmp_path: Path) -> None:
    flow = FLOW.replace("{contact.name}", "{contact.nmae}")
    [d] = project(tmp_path, CAMPAIGN, flow, csv="phone,name,amount\n")
    assert d.code == "FL211" and "nmae" in d.message
    assert d.hint == "did you mean 'name'?"


def test_an_inbound_flow_cannot_read_contact(tmp_path: Path) -> None:
    flow = FLOW.replace(
        "outbound:\n  contact:\n    name: {type: string}\n    amount: {type: number}\n"
        "    note: {type: string, required: false}\n  dispositions: [promised, refused]\n",
        "",
    )
    found = project(tmp_path, TRUNK, flow)
    assert {d.code for d in found} >= {"FL206", "FL501"}
    assert any("contact" in d.message for d in found)


def test_an_undeclared_disposition_is_an_error_at_the_value(tmp_path: Path) -> None:
    flow = FLOW.replace("'promised'", "'promissed'")
    [d] = project(tmp_path, CAMPAIGN, flow, csv="phone,name,amount\n")
    assert (d.code, d.span.line) == ("FL707", 21)
    assert d.hint == "did you mean 'promised'?"


def test_declaring_a_built_in_outbound_name_is_an_error(tmp_path: Path) -> None:
    flow = FLOW.replace("start: hello", "variables:\n  disposition: {type: string}\nstart: hello")
    found = project(tmp_path, CAMPAIGN, flow, csv="phone,name,amount\n")
    assert [d.code for d in found] == ["FL504"]


def test_a_campaign_on_an_inbound_flow_or_no_flow_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "main.yaml").write_text(
        "flow: main\nlanguages: [en]\nstart: bye\nnodes:\n  bye: {type: hangup}\n"
    )
    body = CAMPAIGN + "  other:\n    flow: main\n    trunk: carrier\n    contacts: {csv: contacts.csv}\n"
    body += "  third:\n    flow: remindr\n    trunk: carrier\n    contacts: {csv: contacts.csv}\n"
    found = project(tmp_path, body, csv="phone,name,amount\n")
    assert [d.code for d in found] == ["FL704", "FL704"]
    assert "not an outbound flow" in found[0].message
    assert found[1].hint == "did you mean 'reminder'?"


def test_a_contact_list_without_a_column_the_flow_reads_is_an_error(tmp_path: Path) -> None:
    found = project(tmp_path, CAMPAIGN, csv="phone,nmae\n1380\n")
    assert [(d.code, "'name'" in d.message or "'amount'" in d.message) for d in found] == [
        ("FL705", True),
        ("FL705", True),
    ]
    assert found[0].hint == "did you mean 'nmae'?" or found[1].hint == "did you mean 'nmae'?"


def test_a_missing_contact_list_is_an_error(tmp_path: Path) -> None:
    [d] = project(tmp_path, CAMPAIGN)
    assert d.code == "FL706" and "contacts.csv" in d.message


def test_a_followed_contact_list_needs_a_query_and_a_key_at_the_follow() -> None:
    followed = "{query: SELECT * FROM e, database: e.db, key: id, follow: 5s}"
    built, found = service(TRUNK + f"campaigns:\n  c: {{flow: f, trunk: carrier, contacts: {followed}}}\n")
    assert found == [] and built is not None
    source = built.campaigns["c"].contacts
    assert (source.key, source.follow) == ("id", Decimal(5))
    for contacts in ("{query: SELECT 1, database: e.db, follow: 5s}", "{csv: a.csv, key: id, follow: 5s}"):
        _, found = service(TRUNK + f"campaigns:\n  c: {{flow: f, trunk: carrier, contacts: {contacts}}}\n")
        [d] = found
        assert d.code == "FL720" and "a `query` and a `key`" in d.message, contacts
        assert d.span.line == 10 and d.hint.startswith("each row is one contact"), contacts


def test_an_sms_fallback_must_name_a_declared_sms_channel() -> None:
    channels = (
        "channels:\n  mail: {kind: email, from: a@b.c, smtp: {host: 127.0.0.1}}\n"
        "  text: {kind: sms, http: {url: 'http://127.0.0.1:9/x'}}\n"
    )
    built, found = service(
        TRUNK + channels + CAMPAIGN[len(TRUNK) :] + "    sms_fallback: {channel: text, text: sms}\n"
    )
    assert [d.code for d in found] == [] and built is not None
    fallback = built.campaigns["june"].sms_fallback
    assert fallback is not None and (fallback.channel, fallback.text) == ("text", "sms")
    _, found = service(
        TRUNK + channels + CAMPAIGN[len(TRUNK) :] + "    sms_fallback: {channel: mail, text: sms}\n"
    )
    [d] = found
    assert (d.code, d.span.line) == ("FL721", 17) and "not an SMS channel" in d.message
