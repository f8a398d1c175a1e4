"""Two instances' desks on one PostgreSQL database (each tenant's agents' journal, login
gate and desktop tokens in its schema): wrong passwords typed at instance A lock the
extension at instance B too, over B's real HTTP login, and the journal either instance
reads holds both instances' lines (the supervisors' audit log); a desktop logged in at A
reconnects to B's WebSocket with its token, and its logout there ends the token at A."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import psycopg
import trio
from cti_support import PASSWORDS, demo_agents, serving
from trio_websocket import open_websocket_url

from ivr.adapters.cti import build_cti_app
from ivr.adapters.cti.app import CtiApp
from ivr.adapters.cti.testing import DeskConnector
from ivr.adapters.postgres.agent_journal import PostgresAgentJournal, open_postgres_agent_journal
from ivr.runtime.acd import AcdSettings, QueueConfig, open_acd
from ivr.runtime.testing import MemoryCallRecords


@asynccontextmanager
async def instance(url: str, name: str) -> AsyncIterator[tuple[CtiApp, PostgresAgentJournal]]:
    connector = DeskConnector()
    settings = AcdSettings({"general": QueueConfig("general", ("general",), announce_every=None)})
    async with (
        open_postgres_agent_journal(url, instance=name, schema="tenant_brokerage") as journal,
        open_acd(connector, settings) as acd,
        trio.open_nursery() as nursery,
    ):
        app = build_cti_app(
            acd,
            MemoryCallRecords(),
            demo_agents(),
            connector,
            journal=journal,
            logins=journal.login_gate,
            tokens=journal.token_book,
        )
        await nursery.start(app.server.run)
        yield app, journal
        nursery.cancel_scope.cancel()


async def test_a_lock_out_started_at_one_instance_holds_at_the_other(postgres_url: str) -> None:
    async with (
        instance(postgres_url, "a") as (app_a, journal_a),
        instance(postgres_url, "b") as (app_b, journal_b),
        serving(app_a) as url_a,
        serving(app_b) as url_b,
        httpx.AsyncClient(base_url=url_a) as at_a,
        httpx.AsyncClient(base_url=url_b) as at_b,
    ):
        wrong = {"extension": "8001", "password": "guess"}
        answers = []
        for attempt in range(5):  # the desk's default: 5 wrong passwords lock an extension
            client = at_a if attempt % 2 else at_b
            answers.append((await client.post("/cti/login", json=wrong)).json()["code"])
        assert answers == ["auth_failed"] * 4 + ["locked"]
        right = {"extension": "8001", "password": PASSWORDS["8001"]}
        for client in (at_a, at_b):
            refused = await client.post("/cti/login", json=right)
            assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 800
        assert (
            await at_a.post("/cti/login", json={"extension": "8002", "password": PASSWORDS["8002"]})
        ).status_code == 200

        async def journaled() -> list[tuple[str, str]]:
            lines = await journal_a.events(extension="8001")
            return [(line.kind, str(line.detail.get("via"))) for line in lines]

        with trio.fail_after(10):  # the desks write their journal lines soon after answering
            while True:
                kinds = [kind for kind, _ in await journaled()]
                if kinds.count("login_failed") + kinds.count("login_refused") >= 7:
                    break
                await trio.sleep(0.02)
        latest = [line.kind for line in await journal_b.latest(("locked_out", "login_failed"), 10)]
        assert latest.count("login_failed") == 5 and latest[0] == "locked_out"
        counted = await journal_b.db.run(
            lambda c: c.execute("SELECT instance, count(*) FROM agent_journal GROUP BY instance").fetchall()
        )
        assert {name for name, _ in counted} == {"a", "b"}  # each line stamped with its instance


async def test_a_login_while_the_shared_database_is_lost_is_refused_for_a_moment_then_works(
    postgres_url: str,
) -> None:
    async with (
        instance(postgres_url, "a") as (app_a, journal_a),
        serving(app_a) as url_a,
        httpx.AsyncClient(base_url=url_a) as at_a,
    ):
        right = {"extension": "8001", "password": PASSWORDS["8001"]}
        assert (await at_a.post("/cti/login", json=right)).status_code == 200
        with trio.fail_after(10):  # its journal line is written behind the answer: wait for it,
            while True:  # so that its write does not meet the outage and reconnect the pool first
                if await journal_a.events(extension="8001"):
                    break
                await trio.sleep(0.02)
        with psycopg.connect(postgres_url, autocommit=True) as admin:  # the server drops every session
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        refused = await at_a.post("/cti/login", json=right)
        assert refused.status_code == 503, refused.text
        assert refused.json()["code"] == "unavailable" and refused.headers["retry-after"] == "5"
        assert "try again" in refused.json()["error"] and PASSWORDS["8001"] not in refused.text
        assert (await at_a.post("/cti/login", json=right)).status_code == 200  # connected again


async def test_a_desktop_logged_in_at_one_instance_reconnects_to_the_other_with_its_token(
    postgres_url: str,
) -> None:
    async with (
        instance(postgres_url, "a") as (app_a, _),
        instance(postgres_url, "b") as (app_b, _),
        serving(app_a) as url_a,
        serving(app_b) as url_b,
        httpx.AsyncClient(base_url=url_a) as at_a,
    ):
        right = {"extension": "8001", "password": PASSWORDS["8001"]}
        token = (await at_a.post("/cti/login", json=right)).json()["token"]
        async with open_websocket_url(url_b.replace("http://", "ws://") + "/cti/ws") as ws:
            await ws.send_message(json.dumps({"id": 1, "command": "login", "token": token}))
            answer = json.loads(await ws.get_message())
            assert answer["ok"] and answer["agent"]["extension"] == "8001", answer
            await ws.send_message(json.dumps({"id": 2, "command": "logout"}))
            while (message := json.loads(await ws.get_message())).get("reply") != 2:
                pass
            assert message["ok"], message
        async with open_websocket_url(url_a.replace("http://", "ws://") + "/cti/ws") as ws:
            await ws.send_message(json.dumps({"id": 1, "command": "login", "token": token}))
            refused = json.loads(await ws.get_message())
            assert not refused["ok"] and refused["error"]["code"] == "auth_failed", refused
