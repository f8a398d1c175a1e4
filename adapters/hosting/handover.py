"""What a tenant takes over from a silent peer besides campaign runs: the messages the peer
had claimed from the shared outbox, and the queue-callback places its callers kept.

Place: registered by `ivr.adapters.hosting.tenants.Tenant` on its `PeerWatch`
(`ivr.adapters.postgres.peers`) when the tenant's stores are on the shared database; the
claims run inside the watch's claim transaction, so a peer's work goes to one instance.

- `OutboxAdopter`: the peer's `sending` messages are settled as its own restart would
  (`ivr.adapters.postgres.outbox.claim_sending`): a message nothing had left the peer for is
  queued again and sent here once; one being handed to a gateway is queued again only on a
  channel whose gateway drops a second copy with the same delivery id (`dedupe: true`:
  at least once at the gateway, once to the customer), else it is `in_doubt`, held for an
  operator (`ivr messages retry`), never resent blindly. The peer's `queued` messages need
  no hand-over: every instance's workers claim any queued message.
- `PlacesAdopter`: the peer's open kept places become this instance's
  (`ivr.adapters.postgres.callbacks.claim_places`) and wait again in this tenant's ACD,
  which calls the customers back when their places reach an agent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from ivr.adapters.messaging import Messaging
from ivr.adapters.postgres.callbacks import claim_places
from ivr.adapters.postgres.database import Connection
from ivr.adapters.postgres.outbox import claim_sending
from ivr.runtime.acd import Acd

log = logging.getLogger(__name__)


class OutboxAdopter:
    """The `Adopter` of a silent peer's messages caught mid-send."""

    name = "messages"

    def __init__(self, messaging: Messaging) -> None:
        self.messaging = messaging
        self.in_doubt: list[str] = []  # held for an operator, for the log and the tests

    def claim(self, conn: Connection, peer: str, me: str, at: datetime) -> Sequence[str]:
        resend = [name for name, s in self.messaging.settings.items() if s.dedupe]
        settled = claim_sending(conn, peer, resend, at)
        self.in_doubt += settled.in_doubt
        for delivery_id in settled.in_doubt:
            log.warning(
                "outbox: delivery %s was being handed to its gateway by instance %s when it went silent: "
                "it may have been sent, so it is not resent (in_doubt); check, then "
                "`ivr messages retry %s` if it never came",
                delivery_id, peer, delivery_id,
            )  # fmt: skip
        return settled.requeued

    async def adopted(self, peer: str, ids: Sequence[str]) -> None:
        if ids:
            log.warning("instance %s is silent: %d message(s) it was sending queued again", peer, len(ids))
            for bell in self.messaging.bells.values():  # send them now, not at the next poll
                bell.ring()


class PlacesAdopter:
    """The `Adopter` of a silent peer's kept queue-callback places."""

    name = "kept places"

    def __init__(self, acd: Acd) -> None:
        self.acd = acd

    def claim(self, conn: Connection, peer: str, me: str, at: datetime) -> Sequence[str]:
        return claim_places(conn, peer, me)

    async def adopted(self, peer: str, ids: Sequence[str]) -> None:
        if ids:
            restored = await self.acd.restore_kept_places(only=ids)
            log.warning(
                "instance %s is silent: %d kept callback place(s) wait here to be called back",
                peer, len(restored),
            )  # fmt: skip
