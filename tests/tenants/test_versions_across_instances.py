"""Two instances on one PostgreSQL serve one center's versions: started together they seed
version 1 once; a publish at A reaches B's next call, a rollback at B reaches A's; a version
B cannot serve (a variable its mail channel needs is unset there) is logged there and B keeps
the one it has. Both
instances run in this process (`open_tenants`, calls on memory legs), each with its own data
folder, hosting file and environment, as on two machines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import trio
from tenants_support import converse, hosting_file, tenant_folder

from ivr.adapters.hosting.plan import plan_hosting
from ivr.adapters.hosting.server import Hosted, open_tenants
from ivr.adapters.hosting.testing import shared_parts
from ivr.adapters.hosting.versions import snapshot
from ivr.adapters.postgres.records import open_postgres_call_records

MENU = """\
flow: main
languages: [en]
start: menu
nodes:
  menu:
    type: menu
    prompt: {{en: "{greeting}"}}
    timeout: 60s
    max_retries: 0
    options: {{"1": bye}}
    on_no_input: bye
    on_no_match: bye
  bye: {{type: hangup, prompt: {{en: Goodbye.}}}}
"""


def machine(root: Path, numbers: str) -> Path:
    """One instance's machine: its hosting file (tenant alpha on `numbers`) and alpha's folder."""
    tenant_folder(root, "alpha", {"100": "main"}, flows={"main": MENU.format(greeting="Version one.")})
    return hosting_file(root, f"alpha: {{folder: alpha, numbers: [{numbers}]}}\n")


@asynccontextmanager
async def instance(
    root: Path, url: str, name: str, env: dict[str, str] | None = None
) -> AsyncIterator[Hosted]:
    """`ivr serve --hosting root/hosting.yaml --database-url url --instance-id name`, in-process
    (`env`: its environment)."""
    plan = plan_hosting(root / "hosting.yaml")
    async with open_postgres_call_records(url, instance=name) as store:
        shared = shared_parts(store, root / "var", hosting_file=root / "hosting.yaml")
        shared = replace(
            shared, config=replace(shared.config, database_url=url, instance_id=name, env=env or {})
        )
        async with open_tenants(plan, shared, 10) as hosted:
            await hosted.wait_started()
            yield hosted


async def serving(hosted: Hosted, version: str) -> None:
    """Until `hosted` gives new calls `version` (it follows the database every second)."""
    with trio.fail_after(15):
        while (current := hosted.tenant("alpha").current) is None or current.id != version:  # noqa: ASYNC110 (a poll)
            await trio.sleep(0.05)


async def greeting(hosted: Hosted) -> str:
    leg = await converse(hosted, "100", ["1"])
    return str(leg.prompts[0].text)


async def test_a_publish_at_one_instance_reaches_the_next_call_at_the_other_and_a_rollback_comes_back(
    postgres_url: str, tmp_path: Path
) -> None:
    machine(tmp_path / "a", '"100"')
    machine(tmp_path / "b", '"100"')
    async with trio.open_nursery() as starting:  # started together: version 1 is seeded once
        hosts: dict[str, Hosted] = {}
        ready = trio.Event()

        async def start(name: str) -> None:
            async with instance(tmp_path / name, postgres_url, name) as hosted:
                hosts[name] = hosted
                if len(hosts) == 2:
                    ready.set()
                await trio.sleep_forever()

        starting.start_soon(start, "a")
        starting.start_soon(start, "b")
        await ready.wait()
        a, b = hosts["a"], hosts["b"]
        assert a.publisher is not None and b.publisher is not None
        listed = await trio.to_thread.run_sync(b.publisher.versions, "alpha")
        assert [(v.id, v.origin) for v in listed] == [("v1", "source")]
        assert await greeting(b) == "Version one."

        files = snapshot(tmp_path / "a" / "alpha") | {
            "main.yaml": MENU.format(greeting="Version two.").encode()
        }
        published = await a.publisher.publish("alpha", files, author="li.na", note="new greeting")
        assert published.ok and published.version is not None and published.version.id == "v2"
        await serving(b, "v2")
        assert await greeting(b) == "Version two."

        back = await b.publisher.rollback("alpha", "v1", author="wang.wei")
        assert back.ok and back.version is not None and back.version.id == "v3"
        await serving(a, "v3")
        assert await greeting(a) == "Version one."
        history = await trio.to_thread.run_sync(a.publisher.versions, "alpha")
        assert [(v.id, v.origin, v.author) for v in history] == [
            ("v1", "source", "ivr serve"),
            ("v2", "publish", "li.na"),
            ("v3", "rollback of v1", "wang.wei"),
        ]
        assert await trio.to_thread.run_sync(
            b.publisher.diff, "alpha", "v2", "v3"
        ) == await trio.to_thread.run_sync(a.publisher.diff, "alpha", "v2", "v3")
        starting.cancel_scope.cancel()


async def test_a_version_the_other_instance_cannot_serve_is_logged_there_and_it_keeps_its_own(
    postgres_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    machine(tmp_path / "a", '"100"')
    machine(tmp_path / "b", '"100"')
    mail = {"MAIL_HOST": "127.0.0.1"}  # set on A's machine, not on B's
    async with (
        instance(tmp_path / "a", postgres_url, "a", mail) as a,
        instance(tmp_path / "b", postgres_url, "b") as b,
    ):
        assert a.publisher is not None and b.publisher is not None
        channel = "channels:\n  email:\n    kind: email\n    from: desk@example.com\n"
        channel += "    smtp: {host: '${MAIL_HOST}', port: 25, security: none}\n"
        service = (tmp_path / "a" / "alpha" / "service.yaml").read_text() + channel
        files = snapshot(tmp_path / "a" / "alpha") | {
            "service.yaml": service.encode(),
            "main.yaml": MENU.format(greeting="Version two.").encode(),
        }
        with caplog.at_level(logging.ERROR, logger="ivr.adapters.hosting.publishing"):
            published = await a.publisher.publish("alpha", files, author="li.na")
            assert published.ok, published.message
            with trio.fail_after(15):
                while "v2 (made current by li.na" not in caplog.text:  # noqa: ASYNC110 (a log line)
                    await trio.sleep(0.05)
        assert "cannot be served here, still serving v1" in caplog.text and "MAIL_HOST" in caplog.text
        current = b.tenant("alpha").current
        assert current is not None and current.id == "v1"
        assert await greeting(b) == "Version one."
        assert await greeting(a) == "Version two."
        assert caplog.text.count("v2 (made current by li.na") == 1  # once, not every second
        assert await b.publisher.follow_once("alpha") is None
