"""The queue's callback offer, as the caller hears it: "press 1 to be called back".

Shared by the ACD (`ivr.runtime.acd.service`, while the caller holds) and the scripted
routing of `ivr test` and `ivr simulate` (`ivr.runtime.testing.channels`), so a flow test
presses the same key the live queue listens for.
"""

from __future__ import annotations

from ivr.runtime.ports import CallbackOffer, CallLeg


async def offer_callback(leg: CallLeg, offer: CallbackOffer) -> bool:
    """Play the offer and listen `offer.listen` seconds: True when the caller pressed the key."""
    leg.clear_digits()
    await leg.play(offer.prompt, barge_in=True)
    digit = await leg.read_digit(offer.listen)
    return digit == offer.key


def offer_due(offer: CallbackOffer, entered: float, expected_wait: float) -> float:
    """When to offer: at once if the expected wait already passes `after`, else once the
    caller has waited `after` seconds."""
    if expected_wait >= float(offer.after):
        return entered
    return entered + float(offer.after)
