"""The media address the IVR offers in SDP is the one it was told to use: its bind address,
or a configured public address; never another interface of the machine (this machine has
one besides loopback, which pjsua2 would pick by default). Read from sipp's message trace.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio
from sip_support import SCENARIOS, SippRun, _background, _run, free_udp_port, open_rtp_peer, sipp_binary

from ivr.adapters.sip.pjthread import SipConfig, SipEndpoint, open_sip_endpoint

pytestmark = pytest.mark.usefixtures("need_sipp")


def start_traced_caller(nursery: trio.Nursery, ivr: str, workdir: Path, rtp_port: int) -> SippRun:
    """One sipp call (it waits for the IVR's BYE) with its messages logged in `workdir`."""
    sipp = sipp_binary()
    assert sipp is not None
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [sipp, "-sf", str(SCENARIOS / "uac_prompt_rtp.xml"), "-i", "127.0.0.1"]
    cmd += ["-p", str(free_udp_port()), "-mp", str(free_udp_port()), "-m", "1", "-l", "1"]
    cmd += ["-nostdin", "-s", "service", "-timeout", "20s", "-timeout_error", "-trace_msg"]
    cmd += ["-key", "rtp_port", str(rtp_port), ivr]
    return _background(nursery, _run(cmd, workdir))


def answer_sdp(workdir: Path) -> dict[str, str]:
    """The `o=`, `c=` and `m=` lines of the SDP in the IVR's 200 OK, and its Contact host."""
    log = next(workdir.glob("*_messages.log")).read_text()
    answer = next(
        m for m in log.split("-" * 20) if "received" in m and "SIP/2.0 200 OK" in m and "m=audio" in m
    )
    lines = {
        line.strip()[:2]: line.strip()[2:] for line in answer.splitlines() if re.match(r"\s*[ocm]=", line)
    }
    contact = re.search(r"Contact:\s*<sip:[^@]+@([^:;>]+)", answer)
    assert contact is not None, answer
    return {**lines, "contact": contact.group(1)}


async def call_and_read_sdp(endpoint: SipEndpoint, ivr: str, workdir: Path) -> tuple[dict[str, str], int]:
    """Place one call to the endpoint; the answer's SDP and how many RTP packets came."""
    peer = await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.receive_forever)
        sipp = start_traced_caller(nursery, ivr, workdir, peer.port)
        with trio.fail_after(10):
            handle = await endpoint.incoming.receive()
        await handle.answer()
        with trio.fail_after(5):
            await peer.first_packet.wait()
        await handle.hangup()
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()
    return answer_sdp(workdir), len(peer.packets)


async def test_the_sdp_offers_the_bind_address_not_another_interface(
    endpoint: SipEndpoint, tmp_path: Path
) -> None:
    sdp, packets = await call_and_read_sdp(endpoint, f"127.0.0.1:{endpoint.port}", tmp_path)
    assert sdp["c="] == "IN IP4 127.0.0.1"
    assert sdp["o="].endswith("IN IP4 127.0.0.1")
    assert sdp["contact"] == "127.0.0.1"
    assert packets > 0  # and the audio does come from there


async def test_a_public_address_is_what_sdp_and_contact_announce(tmp_path: Path) -> None:
    # Listening on every interface, reachable (for this test) at 127.0.0.2: still loopback,
    # so the caller's ACK to the announced Contact reaches the server.
    config = SipConfig(bind="0.0.0.0", public_address="127.0.0.2", port=0)
    async with open_sip_endpoint(config) as endpoint:
        sdp, packets = await call_and_read_sdp(endpoint, f"127.0.0.1:{endpoint.port}", tmp_path)
    assert sdp["c="] == "IN IP4 127.0.0.2"
    assert sdp["o="].endswith("IN IP4 127.0.0.2")
    assert sdp["contact"] == "127.0.0.2"
    assert packets > 0
