"""`ivr messages`: list, show and retry the outbox's messages from the shell."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trio

from ivr.adapters.hosting.config import HostingConfig
from ivr.adapters.hosting.stores import outbox_place
from ivr.adapters.messaging import open_outbox, open_outbox_at
from ivr.adapters.messaging.channels import ChannelSpec, OutboxChannels
from ivr.commands import messages
from ivr.runtime.ports import MessageOrigin

T0 = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)


def ivr_messages(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    messages.configure(parser)
    return messages.run(parser.parse_args(list(argv)))


@pytest.fixture
def outbox(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """An outbox with one message of each interesting state: id by state."""
    path = tmp_path / "outbox.sqlite3"

    async def fill() -> dict[str, str]:
        box = await open_outbox(path)
        channels = OutboxChannels(
            box, {"email": ChannelSpec("email", 2), "sms": ChannelSpec("sms")}, clock=lambda: T0
        )
        ids = {}
        origin = MessageOrigin("call-1", "account", "send_email")
        for state in ("sent", "dead", "queued"):
            ids[state] = await channels.send(
                "email", f"{state}@example.com", f"text {state}", None, origin=origin
            )
        ids["in_doubt"] = await channels.send("sms", "13800138000", "hi", None)
        for state, outcome in (("sent", "sent"), ("dead", "failed")):
            claimed = await box.claim("email", T0)
            assert claimed is not None and claimed.delivery_id == ids[state]
            await box.finish(ids[state], 1, status=state, outcome=outcome, detail=f"{outcome} detail", now=T0,
                             error=None if state == "sent" else "550 no such user")  # fmt: skip
        await box.claim("sms", T0)
        await box.mark_handoff(ids["in_doubt"], 1, T0)
        await box.aclose()
        box = await open_outbox(path)
        await box.recover([], T0)  # as a restart after a crash would
        await box.aclose()
        return ids

    return path, trio.run(fill)


def test_list_shows_each_message_with_its_state(
    outbox: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, ids = outbox
    assert ivr_messages("--outbox", str(path), "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["ID", "STATUS", "CHANNEL", "TO"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows.keys() == set(ids.values())
    assert "dead      email     dead@example.com          1/2" in rows[ids["dead"]]
    assert rows[ids["dead"]].endswith("550 no such user")
    assert "in_doubt  sms" in rows[ids["in_doubt"]] and "it may have been sent" in rows[ids["in_doubt"]]
    assert rows[ids["sent"]].endswith("sent 2026-11-27 02:00")


def test_list_filters_and_speaks_json(
    outbox: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, ids = outbox
    assert ivr_messages("--outbox", str(path), "list", "--status", "dead", "--json") == 0
    [dead] = json.loads(capsys.readouterr().out)["messages"]
    assert (dead["id"], dead["status"], dead["last_error"], dead["call"]) == (
        ids["dead"],
        "dead",
        "550 no such user",
        "call-1",
    )
    assert ivr_messages("--data-dir", str(path.parent), "list", "--call", "call-1", "-n", "1") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_show_prints_the_message_and_every_attempt(
    outbox: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, ids = outbox
    assert ivr_messages("--outbox", str(path), "show", ids["in_doubt"][:8]) == 0
    out = capsys.readouterr().out
    assert f"id:           {ids['in_doubt']}" in out and "status:       in_doubt" in out
    assert "attempt 1: 2026-11-27 02:00 (handed over): in_doubt: the process stopped while handing it" in out


def test_retry_queues_dead_and_in_doubt_messages_again(
    outbox: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, ids = outbox
    assert ivr_messages("--outbox", str(path), "retry", ids["dead"], ids["in_doubt"], "--attempts", "2") == 0
    out = capsys.readouterr().out
    assert f"{ids['dead']}: queued again (was dead), 2 more attempt(s)" in out
    assert ivr_messages("--outbox", str(path), "list", "--status", "queued", "--json") == 0
    queued = {m["id"]: m for m in json.loads(capsys.readouterr().out)["messages"]}
    assert set(queued) == {ids["dead"], ids["in_doubt"], ids["queued"]}
    assert queued[ids["dead"]]["max_attempts"] == 3


def test_retry_of_a_sent_or_unknown_message_fails_with_a_reason(
    outbox: tuple[Path, dict[str, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    path, ids = outbox
    assert ivr_messages("--outbox", str(path), "retry", ids["sent"], "nosuchmessage") == 1
    err = capsys.readouterr().err
    assert f"{ids['sent']} is sent: only dead or in_doubt messages are retried" in err
    assert "no message nosuchmessage" in err


def test_no_outbox_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ivr_messages("--data-dir", str(tmp_path), "list") == 2
    assert f"no outbox at {tmp_path / 'outbox.sqlite3'}" in capsys.readouterr().err


def test_a_tenant_is_read_from_its_own_outbox(
    outbox: tuple[Path, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, ids = outbox
    data = tmp_path / "data"
    (data / "tenants" / "bank").mkdir(parents=True)
    path.rename(data / "tenants" / "bank" / "outbox.sqlite3")
    assert ivr_messages("--data-dir", str(data), "--tenant", "bank", "list", "--json") == 0
    assert {m["id"] for m in json.loads(capsys.readouterr().out)["messages"]} == set(ids.values())
    assert ivr_messages("--data-dir", str(data), "--tenant", "fund", "list") == 2
    assert f"no outbox at {data / 'tenants' / 'fund' / 'outbox.sqlite3'}" in capsys.readouterr().err
    assert ivr_messages("--outbox", str(path), "--tenant", "bank", "list") == 2


def test_with_a_database_url_the_tenants_outbox_is_read_where_serve_keeps_it(
    postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = HostingConfig(data_dir=tmp_path, database_url=postgres_url, instance_id="ivr-a")
    place = outbox_place(config, "bank", tmp_path / "outbox.sqlite3")  # what `ivr serve` opens

    async def fill() -> tuple[str, str]:
        box = await open_outbox_at(place)
        channels = OutboxChannels(box, {"sms": ChannelSpec("sms", 1)}, clock=lambda: T0)
        dead, queued = [await channels.send("sms", "13800138000", text, None) for text in ("a", "b")]
        assert (await box.claim("sms", T0)) is not None
        await box.finish(dead, 1, status="dead", outcome="failed", detail="refused", now=T0, error="refused")
        await box.aclose()
        return dead, queued

    dead, queued = trio.run(fill)
    assert ivr_messages("--database-url", postgres_url, "--tenant", "bank", "list", "--json") == 0
    assert {m["id"] for m in json.loads(capsys.readouterr().out)["messages"]} == {dead, queued}
    assert ivr_messages("--database-url", postgres_url, "--tenant", "bank", "retry", dead[:8]) == 0
    assert f"{dead}: queued again (was dead)" in capsys.readouterr().out
    assert ivr_messages("--database-url", postgres_url, "--tenant", "fund", "list", "--json") == 0
    assert json.loads(capsys.readouterr().out)["messages"] == []  # another tenant's schema
    assert not (tmp_path / "outbox.sqlite3").exists()


def test_a_database_url_that_cannot_be_read_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert ivr_messages("--database-url", "mysql://u:s3cret@h/db", "list") == 2
    err = capsys.readouterr().err
    assert "must start with postgresql://" in err and "s3cret" not in err
