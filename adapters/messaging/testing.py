"""`ScriptedTransport`: a gateway in memory that answers attempts as told, for tests of the
outbox, the workers and the flows above them (the real gateways are tested against real
SMTP and HTTP servers in tests/adapters/messaging).

    transport = ScriptedTransport(["retry", "retry", "sent"])   # the third attempt goes through
    async with open_messaging(path, service, {}, transports={"sms": transport}) as messaging: ...

Each attempt takes the next outcome (the last one repeats); `hang` makes attempts wait
forever after the hand-over (a gateway that never answers); `delivered` lists the
messages it accepted, `attempts` every message it was offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import trio

from ivr.adapters.messaging.store import StoredMessage
from ivr.adapters.messaging.transport import Attempt, AttemptOutcome, Handoff


@dataclass(eq=False)
class ScriptedTransport:
    outcomes: Sequence[AttemptOutcome] = ("sent",)
    hang: bool = False
    delay: float = 0.0
    attempts: list[StoredMessage] = field(default_factory=list)
    delivered: list[StoredMessage] = field(default_factory=list)

    async def deliver(self, message: StoredMessage, handoff: Handoff) -> Attempt:
        outcome = self.outcomes[min(len(self.attempts), len(self.outcomes) - 1)]
        self.attempts.append(message)
        await trio.sleep(self.delay)
        await handoff()
        if self.hang:
            await trio.sleep_forever()
        if outcome == "sent":
            self.delivered.append(message)
        return Attempt.of(
            outcome, f"scripted {outcome} (attempt {message.attempts})", f"ref-{len(self.attempts)}"
        )

    async def aclose(self) -> None:
        await trio.lowlevel.checkpoint()
