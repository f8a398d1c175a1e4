"""The service's message channels: gateway settings pass the schema, secrets must be
`${VARIABLE}` references (FL620), and settings must fit the channel's kind (FL621)."""

from __future__ import annotations

import textwrap

import pytest

from ivr.flowlang.compile import compile_service
from ivr.flowlang.compile.channels import is_reference
from ivr.flowlang.diagnostics import Diagnostic
from ivr.flowlang.yamlsource import load_yaml

GOOD = """
service: s
channels:
  email:
    kind: email
    from: "95500 <statements@broker.example>"
    smtp:
      host: ${IVR_SMTP_HOST:-127.0.0.1}
      port: ${IVR_SMTP_PORT:-25}
      security: starttls
      username: statements
      password: ${IVR_SMTP_PASSWORD}
    retry: {attempts: 5, backoff: 30s, max_backoff: 30m}
    timeout: 20s
  fax:
    kind: fax
    from: fax@broker.example
    smtp: {host: mail.broker.example, port: 587}
    fax_address: "{number}@fax.example.com"
  sms:
    kind: sms
    dedupe: true
    http:
      style: query
      url: http://sms.example.cn/send
      username: broker
      password: ${SMS_PASSWORD}
      params: {apikey: "${SMS_API_KEY}", sign: ""}
      fields: {to: mobile, text: content, reference: msgid}
      success: {body: "0"}
"""


def diagnose(text: str) -> list[Diagnostic]:
    loaded = load_yaml(textwrap.dedent(text), "service.yaml")
    _, found = compile_service(loaded.data, loaded.source_map, "service.yaml")
    return found


def problems(text: str) -> list[tuple[str, str, int]]:
    return [(d.code, d.message, d.span.line) for d in diagnose(text)]


def test_gateway_settings_with_references_are_clean() -> None:
    assert diagnose(GOOD) == []
    loaded = load_yaml(textwrap.dedent(GOOD), "service.yaml")
    service, _ = compile_service(loaded.data, loaded.source_map, "service.yaml")
    assert service is not None
    assert service.channels["fax"].config["fax_address"] == "{number}@fax.example.com"
    assert service.channels["email"].config["smtp"] == {
        "host": "${IVR_SMTP_HOST:-127.0.0.1}",
        "port": "${IVR_SMTP_PORT:-25}",
        "security": "starttls",
        "username": "statements",
        "password": "${IVR_SMTP_PASSWORD}",
    }


@pytest.mark.parametrize(
    ("replace", "by", "what", "line"),
    [
        ("password: ${IVR_SMTP_PASSWORD}", "password: hunter2", "the smtp password", 12),
        ("password: ${SMS_PASSWORD}", "password: s3cret", "the http password", 27),
        ('apikey: "${SMS_API_KEY}"', "apikey: abc123", "the value of param 'apikey'", 28),
    ],
)
def test_a_secret_written_as_text_is_fl620(replace: str, by: str, what: str, line: int) -> None:
    [(code, message, at)] = problems(GOOD.replace(replace, by))
    assert (code, message, at) == ("FL620", f"channel '{'sms' if 'smtp' not in what else 'email'}': {what} "
                                   "is written into the service file", line)  # fmt: skip


def test_an_empty_password_means_no_authentication() -> None:
    assert diagnose(GOOD.replace("password: ${IVR_SMTP_PASSWORD}", 'password: ""')) == []


def test_a_token_in_a_header_must_be_a_reference() -> None:
    text = GOOD.replace("      success:", "      headers: {Authorization: Bearer abc}\n      success:")
    [d] = diagnose(text)
    assert (d.code, d.message) == (
        "FL620",
        "channel 'sms': the value of header 'Authorization' is written into the service file",
    )
    variable = "${SMS_HTTP_HEADERS_AUTHORIZATION}"
    assert d.hint == f"put it in an environment variable and write `Authorization: {variable}` here"


def test_settings_of_another_kind_are_fl621() -> None:
    text = GOOD.replace("    dedupe: true\n", "    dedupe: true\n    smtp: {host: x}\n")
    [d] = diagnose(text)
    assert (d.code, d.message) == (
        "FL621",
        "channel 'sms' is of kind sms: `smtp` belongs to email or fax channels",
    )
    assert d.hint == "a sms channel's gateway settings: http"


def test_mail_without_from_and_fax_without_its_address_are_fl621() -> None:
    text = GOOD.replace('    from: "95500 <statements@broker.example>"\n', "").replace(
        '    fax_address: "{number}@fax.example.com"\n', ""
    )
    assert [(c, m) for c, m, _ in problems(text)] == [
        ("FL621", "channel 'email' sends through `smtp:` and needs `from: <address>`"),
        ("FL621", "channel 'fax' faxes by e-mail and needs `fax_address`"),
    ]


def test_a_wrong_security_or_port_is_explained_where_it_is() -> None:
    text = GOOD.replace("security: starttls", "security: starttsl").replace("${IVR_SMTP_PORT:-25}", "smtp")
    found = {d.code: (d.message, d.hint, d.span.line) for d in diagnose(text)}
    assert found == {
        "FL110": (
            "`port` must be a port number (1-65535) or a ${VARIABLE} reference, got the text 'smtp'",
            "write e.g. 587, or ${SMTP_PORT:-587}",
            9,
        ),
        "FL108": ("`security` cannot be the text 'starttsl'", "did you mean 'starttls'?", 10),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${A}", True),
        ("${A_1:-x y}", True),
        (" ${B} ", True),
        ("$A", False),
        ("x${A}", False),
        ("${1A}", False),
    ],
)
def test_what_counts_as_a_reference(text: str, expected: bool) -> None:
    assert is_reference(text) is expected
