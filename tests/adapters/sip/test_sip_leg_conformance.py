"""The SIP leg passes the conformance suite the memory leg passes
(`ivr.runtime.testing.conformance`, run on the memory leg in tests/runtime): the engine's
tests run on the memory leg, so the real one must behave the same at every point they rely
on. The far end is a caller on 127.0.0.1 the test drives: keys by RFC 4733 from an
`RtpPeer`, the hang-up a BYE (`sip_uac.PythonCaller`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
from sip_support import RtpPeer, open_rtp_peer
from sip_uac import PythonCaller, open_caller

from ivr.adapters.sip.leg import SipCallLeg
from ivr.adapters.sip.pjthread import SipEndpoint
from ivr.adapters.speech.espeak import EspeakRenderer
from ivr.runtime.ports import CallLeg
from ivr.runtime.testing.conformance import CHECKS, Check, FarEnd


class SipFarEnd:
    def __init__(self, caller: PythonCaller, rtp: RtpPeer) -> None:
        self.caller, self.rtp = caller, rtp

    async def press(self, keys: str) -> None:
        await self.rtp.send_dtmf(keys, gap=0.05)

    async def hang_up(self) -> None:
        await self.caller.hang_up()


@pytest.mark.parametrize("check", CHECKS, ids=[c.__name__ for c in CHECKS])
async def test_sip_leg_conforms(check: Check, endpoint: SipEndpoint, renderer: EspeakRenderer) -> None:
    async with trio.open_nursery() as nursery:

        @asynccontextmanager
        async def sip_leg() -> AsyncIterator[tuple[CallLeg, FarEnd]]:
            rtp = await open_rtp_peer()
            caller = await open_caller(endpoint.port, rtp)
            nursery.start_soon(rtp.receive_forever)
            nursery.start_soon(caller.run)
            await caller.invite()
            with trio.fail_after(10):
                handle = await endpoint.incoming.receive()
            leg = SipCallLeg(handle, renderer)
            await leg.answer()
            with trio.fail_after(10):
                await caller.answered.wait()
                await rtp.first_packet.wait()  # media flows: keys sent now reach the IVR
            try:
                yield leg, SipFarEnd(caller, rtp)
            finally:
                if not caller.ended.is_set():
                    await leg.hangup()
                with trio.fail_after(10):
                    await handle.ended.wait()

        with trio.fail_after(60):
            await check(sip_leg)
        nursery.cancel_scope.cancel()
