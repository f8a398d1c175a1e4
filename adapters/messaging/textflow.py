"""`TextLeg`: a flow run as one text conversation, so an SMS command gets a real flow's answer.

Place: the SMS webhook (`webhooks`) runs the flow a keyword names on the tenant's engine
with a `TextLeg`: every prompt the flow says becomes a line of the reply, the words after
the keyword are the flow's inputs, and the flow cannot ask for more: a text has no second
turn, so waiting for a key, recording or a transfer ends the conversation (as a hang-up
ends a call). The engine records it as a call on channel `sms` (`ChannelLeg`).

This is deliberately small and one-shot; a chat's many-turn text leg is its own module.
"""

from __future__ import annotations

from decimal import Decimal

from ivr.runtime.ports import CallChannel, CallEnded, Recording, SpokenPrompt, TransferMode


class TextLeg:
    """One SMS conversation: `replies` collects what the flow says."""

    def __init__(self, call_id: str, sender: str, dialed: str) -> None:
        self._call_id = call_id
        self._sender = sender
        self._dialed = dialed
        self.replies: list[str] = []
        self.ended = False

    @property
    def call_id(self) -> str:
        return self._call_id

    @property
    def caller(self) -> str:
        return self._sender

    @property
    def dialed(self) -> str:
        return self._dialed

    @property
    def channel(self) -> CallChannel:
        return "sms"

    @property
    def reply(self) -> str:
        """The reply text: what the flow said, in order."""
        return "\n".join(r for r in self.replies if r.strip())

    async def play(self, prompt: SpokenPrompt, *, barge_in: bool) -> bool:
        self._live()
        self.replies.append(prompt.text.strip())
        return False

    async def read_digit(self, timeout: Decimal) -> str | None:
        raise self._end()

    def clear_digits(self) -> None:
        pass

    async def record(
        self, *, max_length: Decimal, stop_key: str | None, beep: bool, recording_id: str
    ) -> Recording:
        raise self._end()

    def set_secret_entry(self, active: bool) -> None:
        pass

    async def transfer(self, destination: str, *, mode: TransferMode, timeout: Decimal) -> bool:
        raise self._end()

    async def hangup(self) -> None:
        self.ended = True

    def _live(self) -> None:
        if self.ended:
            raise CallEnded()

    def _end(self) -> CallEnded:
        self.ended = True
        return CallEnded()
