"""Each tenant's messages leave through its own outbox and its own gateways: two tenants of
one hosting file send e-mail to two real SMTP servers (aiosmtpd on 127.0.0.1), each message
from its own `tenants/<name>/outbox.sqlite3`; the HTTP view shows a tenant only its own
messages, and a call's trace the messages it queued with their state; publishing a version
with another mail server moves the next message there; a tenant whose gateway setting
cannot be used is unavailable alone."""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from tenants_support import hosting_file, running, tenant_folder

sys.path.insert(0, str(Path(__file__).parents[1] / "adapters" / "messaging"))
from gateways import SmtpSink, eventually, smtp_sink

from ivr.adapters.hosting.admission import Refuse
from ivr.adapters.hosting.auth import Tokens, token_digest
from ivr.adapters.hosting.http import HttpApi
from ivr.adapters.hosting.live import LiveCalls
from ivr.adapters.hosting.server import Hosted, ServerStatus
from ivr.adapters.hosting.testing import memory_call
from ivr.adapters.hosting.versions import snapshot

OPERATOR, ALPHA, BETA = "operator-secret", "alpha-secret", "beta-secret"

SEND_FLOW = """\
flow: main
languages: [en]
start: send
nodes:
  send:
    type: send
    channel: email
    to: '"li.na@example.com"'
    message: {{en: "A note from {tenant}."}}
    next: told
    on_error: failed
  told: {{type: hangup, prompt: {{en: It will be sent.}}}}
  failed: {{type: hangup, prompt: {{en: It cannot be sent.}}}}
"""


def email_channel(host: str, port: str | int) -> str:
    return (
        "channels:\n"
        "  email:\n"
        "    kind: email\n"
        "    from: service@example.com\n"
        f"    smtp: {{host: '{host}', port: {port}, security: none}}\n"
        "    retry: {attempts: 3, backoff: 100ms}\n"
    )


def sending_tenant(root: Path, name: str, number: str, port: str | int, host: str = "127.0.0.1") -> Path:
    return tenant_folder(
        root,
        name,
        {number: "main"},
        flows={"main": SEND_FLOW.format(tenant=name)},
        service_extra=email_channel(host, port),
    )


def two_tenants(
    root: Path, alpha_port: str | int, beta_port: str | int, beta_host: str = "127.0.0.1"
) -> None:
    sending_tenant(root, "alpha", "100", alpha_port)
    sending_tenant(root, "beta", "200", beta_port, beta_host)
    hosting_file(
        root,
        f'alpha: {{folder: alpha, numbers: ["100"], token_sha256: {token_digest(ALPHA)}}}\n'
        f'beta: {{folder: beta, numbers: ["200"], token_sha256: {token_digest(BETA)}}}\n',
        extra=f"operator: {{token_sha256: {token_digest(OPERATOR)}}}\n",
    )


@pytest.fixture
def sinks() -> Iterator[tuple[SmtpSink, SmtpSink]]:
    with smtp_sink() as first, smtp_sink() as second:
        yield first, second


def said(leg: object) -> list[str]:
    return [p.text for p in getattr(leg, "prompts", [])]


def outbox_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute("SELECT message, status FROM outbox ORDER BY created_at"))


@asynccontextmanager
async def http(hosted: Hosted, token: str) -> AsyncIterator[httpx.AsyncClient]:
    assert hosted.publisher is not None
    status = ServerStatus(hosted.admission, 1024, time.monotonic())
    api = HttpApi(status, LiveCalls(), hosted.shared.metrics, hosted.shared.store, hosted.tenants,
                  Tokens.from_hosting(hosted.publisher.hosting), hosted.publisher,
                  hosted.publisher.hosting)  # fmt: skip
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api.app()),
        base_url="http://ivr.test",
        headers={"authorization": f"Bearer {token}"},
    ) as client:
        yield client


async def test_each_tenants_messages_leave_from_its_own_outbox_through_its_own_gateway(
    tmp_path: Path, sinks: tuple[SmtpSink, SmtpSink]
) -> None:
    alpha_mail, beta_mail = sinks
    two_tenants(tmp_path, alpha_mail.port, beta_mail.port)
    async with running(tmp_path) as hosted:
        _, alpha_leg, _ = await memory_call(hosted.admission, "100")
        _, beta_leg, _ = await memory_call(hosted.admission, "200")
        await eventually(lambda: alpha_mail.received and beta_mail.received)
        async with http(hosted, ALPHA) as alpha, http(hosted, OPERATOR) as operator:
            mine = (await alpha.get("/messages")).json()["messages"]
            theirs = await alpha.get("/tenants/beta/messages")
            beta_id = (await operator.get("/messages?tenant=beta")).json()["messages"][0]["id"]
            hidden = await alpha.get(f"/tenants/alpha/messages/{beta_id}")
            shown = await operator.get(f"/tenants/beta/messages/{beta_id}")
            unnamed = await operator.get("/messages")
            assert alpha_leg is not None
            trace = (await alpha.get(f"/calls/{alpha_leg.call_id}/trace")).json()
        sample = hosted.shared.metrics.registry.get_sample_value
        counted = {
            tenant: (
                sample("ivr_messages_total", {"tenant": tenant, "channel": "email"}),
                sample(
                    "ivr_message_attempts_total", {"tenant": tenant, "channel": "email", "status": "sent"}
                ),
            )
            for tenant in ("alpha", "beta")
        }
    assert said(alpha_leg) == said(beta_leg) == ["It will be sent."]
    assert [m.body().strip() for m in alpha_mail.received] == ["A note from alpha."]
    assert [m.body().strip() for m in beta_mail.received] == ["A note from beta."]
    var = tmp_path / "var"
    assert outbox_rows(var / "tenants" / "alpha" / "outbox.sqlite3") == [("A note from alpha.", "sent")]
    assert outbox_rows(var / "tenants" / "beta" / "outbox.sqlite3") == [("A note from beta.", "sent")]
    assert not (var / "outbox.sqlite3").exists()  # nothing shared between tenants
    assert [(m["to"], m["status"]) for m in mine] == [("li.na@example.com", "sent")]
    assert theirs.status_code == 404 and hidden.status_code == 404  # beta's are not alpha's to see
    assert shown.status_code == 200 and shown.json()["message"]["text"] == "A note from beta."
    assert unnamed.status_code == 400 and "tenant" in unnamed.json()["error"]
    assert counted == {"alpha": (1.0, 1.0), "beta": (1.0, 1.0)}  # in /metrics, per tenant
    # the call's record shows what it queued and how the delivery went since
    [queued] = [e["detail"] for e in trace["events"] if e["kind"] == "message"]
    assert [(m["id"], m["status"], m["node"]) for m in trace["messages"]] == [
        (queued["delivery"], "sent", "send")
    ]


async def test_a_published_version_with_another_mail_server_sends_the_next_message_there(
    tmp_path: Path, sinks: tuple[SmtpSink, SmtpSink]
) -> None:
    old_mail, new_mail = sinks
    two_tenants(tmp_path, old_mail.port, old_mail.port)
    async with running(tmp_path) as hosted:
        await memory_call(hosted.admission, "100")
        await eventually(lambda: old_mail.received)
        folder = sending_tenant(tmp_path / "next", "alpha", "100", new_mail.port)
        assert hosted.publisher is not None
        outcome = await hosted.publisher.publish("alpha", snapshot(folder), author="li.na")
        assert outcome.ok, outcome.to_json()
        await memory_call(hosted.admission, "100")
        await eventually(lambda: new_mail.received)
    assert [m.body().strip() for m in old_mail.received] == ["A note from alpha."]
    assert [m.body().strip() for m in new_mail.received] == ["A note from alpha."]
    rows = outbox_rows(tmp_path / "var" / "tenants" / "alpha" / "outbox.sqlite3")
    assert rows == [("A note from alpha.", "sent")] * 2  # one outbox across the versions


async def test_a_tenant_whose_gateway_setting_cannot_be_used_is_unavailable_alone(
    tmp_path: Path, sinks: tuple[SmtpSink, SmtpSink]
) -> None:
    mail, _ = sinks
    two_tenants(tmp_path, mail.port, mail.port, beta_host="${UNSET_SMTP_HOST_FOR_THIS_TEST}")
    async with running(tmp_path) as hosted:
        _, alpha_leg, _ = await memory_call(hosted.admission, "100")
        refused, _, _ = await memory_call(hosted.admission, "200")
        beta = hosted.tenant("beta")
        await eventually(lambda: mail.received)
    assert said(alpha_leg) == ["It will be sent."]
    assert isinstance(refused, Refuse) and refused.status == 503
    assert beta.state == "unavailable" and "UNSET_SMTP_HOST_FOR_THIS_TEST" in beta.reason
