"""Inbound priority and queue callbacks: the dialer hangs up an outbound call to free a
channel for an inbound caller, but never a called-back customer already talking (their
request says `yield_answered=False`); one still ringing may go (it is retried)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import trio

from ivr.adapters.dialer.sip import SipDialer, TrunkLimits, _OutCall


def dialer_with(tmp_path: Path, *calls: _OutCall) -> SipDialer:
    limits = {"carrier": TrunkLimits(channels=len(calls), reserve=0, caller_id="95500")}
    dialer = SipDialer(cast(Any, None), cast(Any, None), limits, cast(Any, None), work_dir=tmp_path)
    dialer._up = {call.attempt_id: call for call in calls}
    dialer.outbound["carrier"] = len(calls)
    return dialer


def call(attempt_id: str, started: float, *, answered: bool, yield_answered: bool = True) -> _OutCall:
    out = _OutCall(attempt_id, "carrier", trio.CancelScope(), started, answered=answered)
    out.yield_answered = yield_answered
    return out


def test_an_answered_callback_is_never_yielded_but_a_campaign_call_is(tmp_path: Path) -> None:
    callback = call("A-cb1", 5.0, answered=True, yield_answered=False)  # the newest answered
    campaign = call("run-c1-1", 1.0, answered=True)
    dialer = dialer_with(tmp_path, callback, campaign)
    assert dialer.yield_channel("carrier") and campaign.yielded and not callback.yielded
    assert not dialer.yield_channel("carrier")  # nothing else may go


def test_a_callback_still_ringing_may_be_yielded(tmp_path: Path) -> None:
    ringing = call("A-cb1", 5.0, answered=False, yield_answered=False)
    dialer = dialer_with(tmp_path, ringing)
    assert dialer.yield_channel("carrier") and ringing.yielded
