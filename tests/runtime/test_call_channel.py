"""The channel a call came by (docs/channels.md): the engine records it and hands it to the
ACD for the screen pop: a phone call in, a call we placed (`outbound`), or a leg that says
its channel (`ChannelLeg`: a chat, an SMS conversation)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ivr.adapters.messaging.textflow import TextLeg
from ivr.flowlang.project import load_project
from ivr.runtime.context import CallPorts, channel_of
from ivr.runtime.engine import Engine
from ivr.runtime.ports import CallChannel, ChannelLeg
from ivr.runtime.testing import (
    FixtureOperations,
    MemoryCallLeg,
    MemoryCallRecords,
    MemoryChannels,
    ScriptedRouting,
)

FLOW = """\
flow: main
languages: [en]
start: queue
nodes:
  queue: {type: enqueue, queue: general, data: {reason: "'help'"}}
"""


@dataclass(slots=True, eq=False)
class ChatLeg(MemoryCallLeg):
    @property
    def channel(self) -> CallChannel:
        return "chat"


@pytest.mark.parametrize(
    ("leg", "channel"), [(MemoryCallLeg(), "phone"), (ChatLeg(), "chat")], ids=["phone", "chat"]
)
async def test_the_record_and_the_queue_request_carry_the_calls_channel(
    tmp_path: Path, leg: MemoryCallLeg, channel: str
) -> None:
    (tmp_path / "main.yaml").write_text(FLOW)
    (tmp_path / "service.yaml").write_text("service: s\nqueues:\n  general: {}\n")
    project, problems = load_project([tmp_path])
    assert not [p for p in problems if p.is_error], problems
    records, routing = MemoryCallRecords(), ScriptedRouting()
    engine = Engine(project, CallPorts(FixtureOperations({}), MemoryChannels(), routing, records))
    await engine.run_call(leg, "main")
    assert records.started[leg.call_id]["channel"] == channel
    assert [r.channel for r in routing.requests] == [channel]


def test_a_call_we_placed_is_outbound_and_a_text_conversation_is_sms() -> None:
    assert channel_of(MemoryCallLeg(), "outbound") == "outbound"
    text = TextLeg("t1", "13900139000", "sms")
    assert isinstance(text, ChannelLeg) and channel_of(text, "inbound") == "sms"
    assert not isinstance(MemoryCallLeg(), ChannelLeg)
