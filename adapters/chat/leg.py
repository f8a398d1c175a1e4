"""A web chat as a call leg: the engine runs the same flows on text.

Place: `ivr.adapters.chat` puts web chat behind the engine's ports. `ChatLeg` is a
`CallLeg` (with `HangupWatch` and `InputHints`): prompts leave as text messages, the keys
that answer arrive as messages. What the browser sends goes through `receive`, which
checks it (size, rate, shape) and turns it into keys:

    {"type": "keys", "keys": "1"}        keys as pressed (a menu button, typed digits)
    {"type": "entry", "text": "600519"}  a whole entry from the text box: its keys, then
                                         the collect's terminator (or the end of the entry)
    {"type": "text", "text": "..."}      free text for the agent, while one talks with them
    {"type": "end"}                      the visitor left (the caller hung up)

and what it sends the browser is a queue of messages (`outgoing`):

    {"type": "say", "text", "language"}  a prompt, as text
    {"type": "ask", "kind", "keys", "max_length", "terminator", "secret",
     "global_keys": [{"key": "0", "name": "agent"}, ...]}
                                         what the flow waits for: buttons, a text box, a
                                         masked box for a secret entry
    {"type": "notice", "text"}           something the chat cannot do (record, transfer)
    {"type": "error", "text"}            a message refused (never quoting a secret)
    {"type": "agent", "state": "joined" | "left"}   an agent took the chat / left it
    {"type": "agent_text", "text"}       what the agent wrote
    {"type": "end"}                      the flow hung up

Secrets: the keys of a secret entry are never echoed, logged or kept beyond the read that
takes them; nothing in this module logs what the visitor types. Timeouts are the flow's
(a menu's `timeout`, a collect's timers) in real time. One session's mistakes end only
that session (`ChatLimits`).
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import trio

from ivr.flowlang.ir import DTMF_KEYS
from ivr.runtime.ports import (
    CallChannel,
    CallEnded,
    ExpectedInput,
    Recording,
    SpokenPrompt,
    TransferMode,
)

log = logging.getLogger(__name__)

END_OF_ENTRY = ""  # in the key buffer: the text box's entry ends here (a read answers None)
NOTICES = {
    "record": {
        "zh": "在线聊天无法录制语音留言。",
        "en": "A voice message cannot be left in a chat.",
    },
    "transfer": {
        "zh": "在线聊天无法转接电话。",
        "en": "A chat cannot be put through to a telephone.",
    },
}


@dataclass(frozen=True)
class ChatLimits:
    """One session's limits: the largest message (bytes), messages per second (and the
    burst allowed above it), how long the visitor may stay silent, and how many messages may
    wait for a browser that does not read them."""

    max_message: int = 2048
    rate: float = 5.0
    burst: int = 20
    idle_seconds: float = 600.0
    backlog: int = 256


class ChatLeg:
    """One web chat session as a `CallLeg` (see the module docstring)."""

    channel: CallChannel = "chat"

    def __init__(self, call_id: str, *, caller: str, dialed: str, limits: ChatLimits | None = None) -> None:
        self.call_id = call_id
        self.caller = caller
        self.dialed = dialed
        self.limits = limits or ChatLimits()
        self._send, self.outgoing = trio.open_memory_channel[dict[str, object]](self.limits.backlog)
        self._keys: deque[str] = deque()
        self._arrived = trio.Event()
        self._gone = trio.Event()  # the visitor left
        self._ended = False  # either side ended the session
        self._expected: ExpectedInput | None = None
        self._secret = False
        self._language = ""
        self._agent: Callable[[str], None] | None = None  # while an agent talks with the visitor
        self._tokens = float(self.limits.burst)
        self._refilled = trio.current_time()

    # -- the browser's side ----------------------------------------------------------------
    def receive(self, raw: str | bytes) -> None:
        """One message from the browser; a bad one is answered with an error message."""
        if len(raw) > self.limits.max_message:
            self._tell({"type": "error", "text": "message too long"})
            return
        if not self._take_token():
            self._tell({"type": "error", "text": "too many messages: slow down"})
            return
        try:
            message = json.loads(raw)
        except ValueError:
            message = None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "end":
            self.leave()
        elif kind == "keys" and isinstance(message, dict) and isinstance(message.get("keys"), str):
            self._add_keys(str(message["keys"]), entry=False)
        elif kind == "entry" and isinstance(message, dict) and isinstance(message.get("text"), str):
            self._add_keys(str(message["text"]), entry=True)
        elif kind == "text" and isinstance(message, dict) and isinstance(message.get("text"), str):
            self._to_agent(str(message["text"]).strip())
        else:
            self._tell({"type": "error", "text": "not understood"})

    def leave(self) -> None:
        """The visitor left (closed the page, ended the chat, went idle): the caller hung up."""
        self._ended = True
        self._gone.set()
        self._arrived.set()
        self._send.close()

    def _to_agent(self, text: str) -> None:
        if self._agent is None:
            self._tell({"type": "error", "text": "no agent is in this chat: answer with the keys"})
        elif text:
            self._agent(text)

    # -- an agent's side (ivr.adapters.chat.agents) ------------------------------------------
    def join_agent(self, on_text: Callable[[str], None]) -> None:
        """An agent took the chat: the visitor's free text goes to `on_text` until `leave_agent`."""
        self._agent = on_text
        self._expected = None
        self._tell({"type": "agent", "state": "joined"})

    def agent_says(self, text: str) -> None:
        self._tell({"type": "agent_text", "text": text})

    def leave_agent(self) -> None:
        self._agent = None
        self._tell({"type": "agent", "state": "left"})

    def _add_keys(self, text: str, *, entry: bool) -> None:
        text = text.strip()
        keys = [ch for ch in text if ch in DTMF_KEYS]
        if len(keys) != len(text):
            # never quote the entry: it may be a secret typed into the wrong box
            self._tell({"type": "error", "text": "only digits, * and # count"})
            if not keys:
                return
        expected = self._expected
        self._keys.extend(keys)
        if entry and expected is not None and expected.kind == "collect":
            if expected.terminator is not None:
                if not keys or keys[-1] != expected.terminator:
                    self._keys.append(expected.terminator)
            else:
                self._keys.append(END_OF_ENTRY)
        self._arrived.set()

    def _take_token(self) -> bool:
        now = trio.current_time()
        limits = self.limits
        self._tokens = min(float(limits.burst), self._tokens + (now - self._refilled) * limits.rate)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    def _tell(self, message: dict[str, object]) -> None:
        """Queue a message for the browser; one that does not read its messages is gone."""
        if self._ended:
            return
        try:
            self._send.send_nowait(message)
        except trio.WouldBlock:
            log.warning("chat %s: the browser does not read its messages; ending the chat", self.call_id)
            self.leave()
        except (trio.ClosedResourceError, trio.BrokenResourceError):
            self.leave()

    # -- the engine's side (CallLeg) --------------------------------------------------------
    async def play(self, prompt: SpokenPrompt, *, barge_in: bool) -> bool:
        self._check()
        self._language = prompt.language or self._language
        if prompt.text:  # music on hold has none
            self._tell({"type": "say", "text": prompt.text, "language": prompt.language})
        await trio.lowlevel.checkpoint()
        return barge_in and any(key != END_OF_ENTRY for key in self._keys)

    def expect(self, expected: ExpectedInput) -> None:
        self._expected = expected
        while self._keys and self._keys[0] == END_OF_ENTRY:  # an entry's end left by a past node
            self._keys.popleft()
        self._tell(
            {
                "type": "ask",
                "kind": expected.kind,
                "keys": list(expected.keys),
                "max_length": expected.max_length,
                "terminator": expected.terminator,
                "secret": expected.secret or self._secret,
                "global_keys": [{"key": key, "name": name} for key, name in expected.global_keys],
            }
        )

    async def read_digit(self, timeout: Decimal) -> str | None:
        self._check()
        with trio.move_on_after(float(timeout)):
            while not self._keys:
                self._arrived = trio.Event()
                await self._arrived.wait()
                self._check()
            key = self._keys.popleft()
            return None if key == END_OF_ENTRY else key
        return None

    def clear_digits(self) -> None:
        self._keys.clear()

    def set_secret_entry(self, active: bool) -> None:
        self._secret = active

    async def record(
        self, *, max_length: Decimal, stop_key: str | None, beep: bool, recording_id: str
    ) -> Recording:
        """A chat carries no voice: the visitor is told, and the recording is silence."""
        self._check()
        self._tell({"type": "notice", "text": self._notice("record")})
        await trio.lowlevel.checkpoint()
        return Recording(recording_id, Decimal(0), None, "silence")

    async def transfer(self, destination: str, *, mode: TransferMode, timeout: Decimal) -> bool:
        """A chat cannot be put through to a telephone number: not connected."""
        self._check()
        self._tell({"type": "notice", "text": self._notice("transfer")})
        await trio.lowlevel.checkpoint()
        return False

    async def hangup(self) -> None:
        if not self._ended:
            self._tell({"type": "end"})
            self._ended = True
            self._send.close()
        await trio.lowlevel.checkpoint()

    async def wait_ended(self) -> None:
        """`HangupWatch`: returns once the visitor has left."""
        await self._gone.wait()

    @property
    def ended(self) -> bool:
        return self._ended

    def _notice(self, what: str) -> str:
        texts = NOTICES[what]
        return texts.get(self._language, texts["en"])

    def _check(self) -> None:
        if self._gone.is_set():
            raise CallEnded(self.call_id)
