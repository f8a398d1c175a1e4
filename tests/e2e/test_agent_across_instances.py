"""Two `ivr serve` instances of one center on one PostgreSQL (`--database-url`): the agent's
desktop (the CTI WebSocket) and phone (a sipp UAS) are at instance B, the callers (sipp)
call instance A. The call is offered across the instances through the shared ACD: B's
desktop pops the screen, A rings the agent's phone and bridges, and A's record has the
agent. A second caller, while the agent talks, waits and is offered once the agent is free,
never twice. Wrong desk passwords typed at A and at B add up to one lock-out that holds at
both, journaled by each in the tenant's journal on the database. The desktop at B holds,
resumes and hangs up a call held at A: the commands travel to A, which carries them out on
its leg; a blind transfer to a queue puts A's caller back in the shared queue. Everything
on 127.0.0.1 (docs/cluster.md). The two servers and their database are shared by the
module's tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import trio
from e2e_support import (
    AGENT,
    PASSWORD,
    STANDARD,
    VIP,
    Desktop,
    E2e,
    ended,
    invite_headers,
    live_call,
    press,
    start_agent_phone,
    start_e2e_server,
)
from hosting_support import environment_ready, open_rtp_peer, start_caller
from trio_websocket import open_websocket_url

from ivr.adapters.postgres.server import PostgresServer, create_database

pytestmark = pytest.mark.slow
TO_AGENT = [("choose_language", "2"), ("main_menu", "0")]  # English, then "an agent"


@pytest.fixture(scope="module")
def center_url(postgres_server: PostgresServer) -> str:
    return create_database(postgres_server, "across_instances")


@pytest.fixture(scope="module")
def center(center_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[E2e, E2e]]:
    problem = environment_ready()
    if problem:
        pytest.skip(problem)
    tmp_path = tmp_path_factory.mktemp("center")
    a = start_e2e_server(tmp_path / "a", "--database-url", center_url, "--instance-id", "a")
    try:
        b = start_e2e_server(tmp_path / "b", "--database-url", center_url, "--instance-id", "b")
        try:
            yield a, b
        finally:
            assert b.server.stop() == 0, b.server.output()
    finally:
        assert a.server.stop() == 0, a.server.output()


async def test_an_agent_at_instance_b_takes_the_calls_of_instance_a_one_at_a_time(
    center: tuple[E2e, E2e], center_url: str, tmp_path: Path
) -> None:
    a, b = center
    agent_peer = await open_rtp_peer()
    peers = {STANDARD: await open_rtp_peer(), VIP: await open_rtp_peer()}
    async with trio.open_nursery() as nursery:
        nursery.start_soon(agent_peer.receive_forever)
        for peer in peers.values():
            nursery.start_soon(peer.receive_forever)
        phone, messages = start_agent_phone(
            nursery, b.phone_port, agent_peer.port, tmp_path / "phone", calls=2
        )
        async with httpx.AsyncClient() as http:
            login = await http.post(
                b.server.url("/cti/login"), json={"extension": AGENT, "password": PASSWORD}
            )
        async with open_websocket_url(b.server.url("/cti/ws").replace("http://", "ws://")) as ws:
            desk = Desktop(ws)
            await desk.command("login", token=login.json()["token"])
            await desk.command("state", state="ready")

            callers, call_ids = {}, {}
            for number, hold_ms in ((STANDARD, "20000"), (VIP, "30000")):
                keys = {"caller": number, "rtp_port": str(peers[number].port), "hold": hold_ms}
                callers[number] = start_caller(
                    nursery, a.server, "uac_call.xml", tmp_path / number, keys=keys, timeout=90
                )
                call_ids[number] = (await live_call(a.server, number))["id"]
                await press(a.server, peers[number], call_ids[number], TO_AGENT)
                if number == STANDARD:
                    first = await desk.event("offered", timeout=40)  # B's screen pop
                    with trio.fail_after(20):
                        await agent_peer.first_packet.wait()  # bridged at A: the caller's audio
            # The second caller waits while the agent talks. B's desktop follows A's call to its
            # end: on call, then the queue's wrap-up, which the agent ends; then the offer.
            states = [(await desk.event("agent_state", timeout=60))["state"]]
            while states[-1] != "wrap_up":
                states.append((await desk.event("agent_state", timeout=60))["state"])
            await desk.command("state", state="ready")
            second = await desk.event("offered", timeout=60)
            first_record = await ended(a.server, call_ids[STANDARD])
            await callers[STANDARD].wait_ok(timeout=5)
            await callers[VIP].wait_ok(timeout=60)
            await phone.wait_ok(timeout=20)
            with pytest.raises(trio.TooSlowError):
                await desk.event("offered", timeout=1)  # no third offer
        nursery.cancel_scope.cancel()

    assert (first["call_id"], first["queue"]) == (call_ids[STANDARD], "general")
    assert first["screen"]["caller"] == STANDARD
    assert second["call_id"] == call_ids[VIP]
    assert "on_call" in states  # B's local ACD knew the agent talked on A's call
    # The phone at B rang once per call, from A, with the call's data.
    invites = invite_headers(messages)
    assert [invite["X-IVR-Call"] for invite in invites] == [call_ids[STANDARD], call_ids[VIP]]
    # A's records (on the shared database) have the agent of B on both calls.
    assert first_record["agent"] == AGENT
    assert (await ended(a.server, call_ids[VIP]))["agent"] == AGENT
    # The shared record: B noted the offer (its desktop's), A the connection and the end.
    agents = [(kind, detail["agent"]) for kind, detail in _agent_lines(center_url, call_ids[STANDARD])]
    assert ("agent_offered", AGENT) in agents
    assert agents.index(("agent_connected", AGENT)) < agents.index(("agent_call_ended", AGENT))
    # One center's desk: wrong passwords typed at A and B add up, and the lock holds at both.
    async with httpx.AsyncClient() as http:
        codes = []
        for n in range(5):
            server = (a, b)[n % 2].server
            wrong = await http.post(server.url("/cti/login"), json={"extension": "8002", "password": "guess"})
            codes.append(wrong.json()["code"])
        right = await http.post(
            b.server.url("/cti/login"), json={"extension": "8002", "password": "demo-8002"}
        )
    assert codes == ["auth_failed"] * 4 + ["locked"] and right.status_code == 429
    with psycopg.connect(center_url) as conn:  # the tenant's journal: both instances' lines
        [(schema,)] = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'agent_journal'"
        ).fetchall()
        conn.execute(f'SET search_path TO "{schema}"')
        with trio.fail_after(10):  # each desk writes its journal lines soon after answering
            while True:
                failed = conn.execute(
                    "SELECT instance FROM agent_journal WHERE extension = '8002' AND kind = 'login_failed'"
                ).fetchall()
                if len(failed) == 5:
                    break
                await trio.sleep(0.05)
    assert {instance for (instance,) in failed} == {"a", "b"}


async def test_the_desktop_at_b_holds_transfers_and_hangs_up_a_call_held_at_a(
    center: tuple[E2e, E2e], center_url: str, tmp_path: Path
) -> None:
    a, b = center
    agent_peer, caller_peer = await open_rtp_peer(), await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(agent_peer.receive_forever)
        nursery.start_soon(caller_peer.receive_forever)
        phone, messages = start_agent_phone(
            nursery, b.phone_port, agent_peer.port, tmp_path / "phone", calls=2
        )
        async with httpx.AsyncClient() as http:
            login = await http.post(
                b.server.url("/cti/login"), json={"extension": AGENT, "password": PASSWORD}
            )
        async with open_websocket_url(b.server.url("/cti/ws").replace("http://", "ws://")) as ws:
            desk = Desktop(ws)
            await desk.command("login", token=login.json()["token"])
            if (await desk.event("agent_state"))["state"] != "ready":  # as the module's last test left it
                await desk.command("state", state="ready")
            keys = {"caller": STANDARD, "rtp_port": str(caller_peer.port)}
            caller = start_caller(
                nursery, a.server, "uac_until_bye.xml", tmp_path / "caller", keys=keys, timeout=90
            )
            call_id = (await live_call(a.server, STANDARD))["id"]
            await press(a.server, caller_peer, call_id, TO_AGENT)
            assert (await desk.event("offered", timeout=40))["call_id"] == call_id
            await desk.event("connected", timeout=20)
            held = await desk.command("hold", call_id=call_id, on=True)  # carried to A
            resumed = await desk.command("hold", call_id=call_id, on=False)
            consult = await desk.attempt("consult", call_id=call_id, agent="8002")  # not carried yet
            # A blind transfer back to the queue: A ends the agent's part and queues the
            # caller; the agent, ready after wrap-up, is offered the same caller again.
            await desk.command("transfer", call_id=call_id, queue="general")
            transferred = await desk.event("ended", timeout=20)
            await desk.command("state", state="ready")
            again = await desk.event("offered", timeout=40)
            await desk.event("connected", timeout=20)
            await desk.command("hangup", call_id=call_id)
            ended_message = await desk.event("ended", timeout=20)
            await phone.wait_ok(timeout=20)  # A hung up the agent's phone (its BYE)
            await caller.wait_ok(timeout=40)  # the caller went on in A's flow (goodbye), then A hung up
            refused = await desk.attempt("hold", call_id=call_id, on=True)
        nursery.cancel_scope.cancel()

    assert (held["held"], resumed["held"]) == (True, False)
    assert consult["error"]["code"] == "transfer_failed" and "another instance" in consult["error"]["message"]
    assert (transferred["call_id"], again["call_id"], ended_message["call_id"]) == (call_id,) * 3
    assert [invite["X-IVR-Call"] for invite in invite_headers(messages)] == [call_id, call_id]
    assert refused["ok"] is False and refused["error"]["code"] == "not_your_call"
    # A carried out each command on its leg; the shared record of A's call shows them.
    with psycopg.connect(center_url) as conn:
        commands = conn.execute(
            "SELECT command, owner, sender, state FROM acd_commands WHERE call_id = %s ORDER BY id",
            (call_id,),
        ).fetchall()
    assert commands == [
        ("hold", "a", "b", "done"),
        ("hold", "a", "b", "done"),
        ("transfer_queue", "a", "b", "done"),
        ("hangup", "a", "b", "done"),
    ]
    lines = _agent_lines(center_url, call_id)
    holds = [detail["on"] for kind, detail in lines if kind == "agent_hold"]
    assert holds == [True, False]
    kinds = [kind for kind, _ in lines]
    assert kinds.index("agent_connected") < kinds.index("agent_hold") < kinds.index("agent_call_ended")
    assert [d["queue"] for k, d in lines if k == "agent_transfer"] == ["general"]
    assert kinds.count("agent_connected") == 2  # the agent took the transferred caller again
    record = await ended(a.server, call_id)
    assert record["agent"] == AGENT


def _agent_lines(url: str, call_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The agent lines of a call's shared record, in order."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT kind, detail FROM events WHERE call_id = %s ORDER BY seq", (call_id,)
        ).fetchall()
    return [(kind, json.loads(detail)) for kind, detail in rows if kind.startswith("agent_")]
