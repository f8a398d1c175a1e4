"""Chats with agents: the same ACD and desktop as calls, with text instead of audio.

Place: wraps a tenant's agent line (`SipAgentConnector`, or `DeskConnector` in tests) as
the ACD's `AgentConnector` and the CTI's `CallControl`. Calls pass through untouched. For
a chat (a leg whose `channel` is "chat"):

- `ring` rings no phone: the desktop gets a `chat` event (state `offered`) beside the ACD's
  `offered`, and the agent answers with the desktop's `answer` command (`answer_chat`);
  declining (`hangup`) or the ring timeout is "no_answer", as for a phone.
- `bridge` joins the agent to the chat: the visitor's text reaches the desktop as
  `chat_message` events (from `customer`), the agent's `chat` command (`say_in_chat`)
  reaches the visitor and comes back to the desktop as a `chat_message` from `agent`. It
  ends when the agent hangs up (the flow goes on, as after a call) or the visitor leaves.
- hold, mute, keypad, consultations and flows are refused for chats (`NotConnected`).

The messages are not stored: the call record has the ACD's lines (queued, answered, by
whom) and the wrap-up, as for calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, TypeGuard

import trio

from ivr.adapters.cti.calls import NotConnected
from ivr.adapters.cti.control import CallControl, CallListener, Dial
from ivr.adapters.events import first_set
from ivr.runtime.ports import AgentConnector, AgentEndpoint, CallFlows, CallLeg, RingResult

log = logging.getLogger(__name__)

MAX_TEXT = 2000  # characters of one agent message


class Line(AgentConnector, CallControl, Protocol):
    """The line being wrapped (the hosting's `AgentLine`)."""


class ChatParty(Protocol):
    """What a chat leg offers an agent (`ivr.adapters.chat.ChatLeg`)."""

    @property
    def call_id(self) -> str: ...

    def join_agent(self, on_text: Callable[[str], None]) -> None: ...

    def agent_says(self, text: str) -> None: ...

    def leave_agent(self) -> None: ...

    async def wait_ended(self) -> None: ...


class Desks(Protocol):
    """Where desktop events go (the CTI server, which listens to the line)."""

    def deliver(self, extension: str, message: Mapping[str, object]) -> None: ...


@dataclass(eq=False)
class _Chat:
    party: ChatParty
    agent_id: str
    answered: trio.Event = field(default_factory=trio.Event)
    over: trio.Event = field(default_factory=trio.Event)  # declined, hung up, finished
    talking: bool = False


def is_chat(leg: object) -> TypeGuard[ChatParty]:
    return getattr(leg, "channel", None) == "chat"


class ChatAgentLine:
    """An agent line that also carries chats (see the module docstring)."""

    def __init__(self, inner: Line) -> None:
        self.inner = inner
        self.chats: dict[str, _Chat] = {}
        self._desks: Desks | None = None

    # -- AgentConnector --------------------------------------------------------------------
    async def ring(
        self, leg: CallLeg, agent: AgentEndpoint, *, ring_timeout: Decimal, screen: Mapping[str, object]
    ) -> RingResult:
        if not is_chat(leg):
            return await self.inner.ring(leg, agent, ring_timeout=ring_timeout, screen=screen)
        chat = _Chat(leg, agent.agent_id)
        self.chats[leg.call_id] = chat
        self._tell(chat, leg.call_id, {"event": "chat", "state": "offered"})
        gone = trio.Event()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_set_when_ended, leg, gone)
            with trio.move_on_after(float(ring_timeout)):
                await first_set(chat.answered, chat.over, gone)
            nursery.cancel_scope.cancel()
        if chat.answered.is_set() and not chat.over.is_set() and not gone.is_set():
            return "answered"
        self.chats.pop(leg.call_id, None)
        self._tell(chat, leg.call_id, {"event": "chat", "state": "ended"})
        return "no_answer"

    async def bridge(self, leg: CallLeg, agent: AgentEndpoint, *, flows: CallFlows | None = None) -> None:
        chat = self.chats.get(leg.call_id) if is_chat(leg) else None
        if chat is None:
            await self.inner.bridge(leg, agent, flows=flows)
            return
        call_id = leg.call_id

        def from_customer(text: str) -> None:
            self._tell(chat, call_id, {"event": "chat_message", "from": "customer", "text": text})

        chat.party.join_agent(from_customer)
        chat.talking = True
        self._tell(chat, call_id, {"event": "chat", "state": "talking"})
        gone = trio.Event()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_set_when_ended, chat.party, gone)
                await first_set(chat.over, gone)
                nursery.cancel_scope.cancel()
        finally:
            self.chats.pop(call_id, None)
            if not gone.is_set():
                chat.party.leave_agent()
            self._tell(chat, call_id, {"event": "chat", "state": "ended"})

    # -- what the desktop does with a chat ---------------------------------------------------
    async def answer_chat(self, call_id: str, agent_id: str) -> None:
        chat = self._chat(call_id, agent_id)
        chat.answered.set()
        await trio.lowlevel.checkpoint()

    async def say_in_chat(self, call_id: str, agent_id: str, text: str) -> None:
        chat = self._chat(call_id, agent_id)
        if not chat.talking:
            raise NotConnected("answer the chat first")
        text = text.strip()[:MAX_TEXT]
        if text:
            chat.party.agent_says(text)
            self._tell(chat, call_id, {"event": "chat_message", "from": "agent", "text": text})
        await trio.lowlevel.checkpoint()

    def _chat(self, call_id: str, agent_id: str) -> _Chat:
        chat = self.chats.get(call_id)
        if chat is None or chat.agent_id != agent_id:
            raise NotConnected(f"no chat {call_id} of yours")
        return chat

    def _tell(self, chat: _Chat, call_id: str, message: dict[str, object]) -> None:
        if self._desks is not None:
            self._desks.deliver(chat.agent_id, {**message, "call_id": call_id})

    # -- CallControl -------------------------------------------------------------------------
    def listen(self, listener: CallListener) -> None:
        deliver = getattr(listener, "deliver", None)
        self._desks = listener if callable(deliver) else None  # type: ignore[assignment]
        self.inner.listen(listener)

    async def hangup(self, call_id: str) -> None:
        chat = self.chats.get(call_id)
        if chat is None:
            await self.inner.hangup(call_id)
            return
        chat.over.set()
        await trio.lowlevel.checkpoint()

    async def finish(self, call_id: str) -> None:
        await self.hangup(call_id) if call_id in self.chats else await self.inner.finish(call_id)

    async def hold(self, call_id: str, on: bool) -> None:
        self._no_chat(call_id)
        await self.inner.hold(call_id, on)

    async def mute(self, call_id: str, on: bool) -> None:
        self._no_chat(call_id)
        await self.inner.mute(call_id, on)

    async def send_dtmf(self, call_id: str, digits: str) -> None:
        self._no_chat(call_id)
        await self.inner.send_dtmf(call_id, digits)

    async def consult(self, call_id: str, target: Dial) -> None:
        self._no_chat(call_id)
        await self.inner.consult(call_id, target)

    async def conference(self, call_id: str) -> None:
        self._no_chat(call_id)
        await self.inner.conference(call_id)

    async def drop_other(self, call_id: str) -> None:
        self._no_chat(call_id)
        await self.inner.drop_other(call_id)

    async def hand_to_other(self, call_id: str) -> None:
        self._no_chat(call_id)
        await self.inner.hand_to_other(call_id)

    async def dial_for_caller(self, call_id: str, target: Dial) -> None:
        self._no_chat(call_id)
        await self.inner.dial_for_caller(call_id, target)

    async def send_to_flow(self, call_id: str, flow: str, inputs: Mapping[str, object]) -> None:
        self._no_chat(call_id)
        await self.inner.send_to_flow(call_id, flow, inputs)

    def label_recording(self, call_id: str, key: str, value: str) -> str | None:
        return None if call_id in self.chats else self.inner.label_recording(call_id, key, value)

    def _no_chat(self, call_id: str) -> None:
        if call_id in self.chats:
            raise NotConnected("not in a chat: a chat has text, no audio")


async def _set_when_ended(party: object, event: trio.Event) -> None:
    wait_ended = getattr(party, "wait_ended", None)
    if callable(wait_ended):
        await wait_ended()
        event.set()
