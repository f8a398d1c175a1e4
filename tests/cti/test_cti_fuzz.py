"""Garbage on the CTI socket: whatever a desktop sends, it gets an answer, the connection
stays up (a ping still works), and the caller's conversation is untouched."""

from __future__ import annotations

import json
from typing import Any

import trio
from cti_support import running_cti
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.adapters.cti.protocol import BadRequest, parse_request
from ivr.runtime.acd import AgentState

COMMANDS = [
    "login", "state", "hangup", "transfer", "consult", "complete", "conference", "hold", "mute", "dtmf",
    "wrapup", "extend_wrapup", "ping", "logout", "dance",
]  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
commands = st.fixed_dictionaries(
    {"command": st.sampled_from(COMMANDS)},
    optional={
        "id": json_values,
        "call_id": st.text(max_size=10) | json_values,
        "state": st.sampled_from(["ready", "not_ready", "busy", ""]) | json_values,
        "queue": json_values,
        "agent": json_values,
        "number": json_values,
        "disposition": json_values,
        "notes": json_values,
        "ready": json_values,
        "token": json_values,
        "extension": json_values,
        "password": json_values,
        "on": json_values,
        "digits": st.sampled_from(["1", "*#", "12345678901234567890123456789012345"]) | json_values,
        "leg": st.sampled_from(["self", "consult", "caller"]) | json_values,
        "reason": st.sampled_from(["break", "nap", "Break"]) | json_values,
        "after_call": json_values,
        "seconds": st.sampled_from([0, 30, 601, -1]) | json_values,
    },
)
messages = st.one_of(
    commands.map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=60),
    st.binary(max_size=60),
)


@given(st.one_of(st.text(), st.binary()))
def test_parse_request_never_raises(message: str | bytes) -> None:
    result = parse_request(message)
    assert isinstance(result, BadRequest) or result.id is not None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages, min_size=1, max_size=12))
def test_random_messages_never_break_the_connection_nor_the_call(batch: list[Any]) -> None:
    trio.run(_fuzz, batch)


async def _fuzz(batch: list[str | bytes]) -> None:
    async with running_cti(answer_after=0.01) as cti:
        desk = await cti.desktop("8001")
        await desk.say({"id": "r", "command": "state", "state": "ready"})
        leg = cti.call("call-fuzz-0f3a9c")
        await desk.hear_until(lambda m: m.get("event") == "connected")
        for message in batch:
            await desk.say(message)
        await desk.say({"id": "alive?", "command": "ping"})
        assert (await desk.reply_to("alive?"))["pong"] is True
        stats = cti.acd.statistics().agents["8001"]
        assert stats.state is AgentState.ON_CALL and stats.call_id == "call-fuzz-0f3a9c"
        assert not leg.ended and not leg.transfers and "call-fuzz-0f3a9c" not in cti.outcomes
        assert not cti.records.events
        leg.hang_up()
