"""A draining endpoint answers OPTIONS probes and new INVITEs with 503 from the pj thread, so
a proxy in front (Kamailio's dispatcher, docs/cluster.md) takes it out of rotation; before
draining pjsua answers the probes 200 as usual."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import trio
from test_overload_refusal import REFUSED, call

from ivr.adapters.sip.pjthread import SipEndpoint

pytestmark = pytest.mark.usefixtures("need_sipp")


async def options_status(port: int, n: int) -> int:
    """Send one out-of-dialog OPTIONS, as Kamailio's dispatcher probes; the reply's status."""
    with trio.socket.socket(trio.socket.AF_INET, trio.socket.SOCK_DGRAM) as sock:
        await sock.bind(("127.0.0.1", 0))
        here = sock.getsockname()[1]
        request = (
            f"OPTIONS sip:127.0.0.1:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{here};branch=z9hG4bK-probe-{n};rport\r\n"
            f"From: <sip:dispatcher@127.0.0.1:{here}>;tag=probe{n}\r\n"
            f"To: <sip:127.0.0.1:{port}>\r\n"
            f"Call-ID: probe-{n}@127.0.0.1\r\nCSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\n"
            "Content-Length: 0\r\n\r\n"
        )
        await sock.sendto(request.encode(), ("127.0.0.1", port))
        with trio.fail_after(5):
            reply = await sock.recv(4096)
    found = re.match(rb"SIP/2\.0 (\d{3}) ", reply)
    assert found is not None, reply
    return int(found[1])


async def test_a_draining_endpoint_answers_options_probes_and_new_invites_with_503(
    endpoint: SipEndpoint, tmp_path: Path
) -> None:
    assert await options_status(endpoint.port, 1) == 200
    endpoint.stop_taking_calls()
    assert await options_status(endpoint.port, 2) == 503
    assert await options_status(endpoint.port, 3) == 503
    async with trio.open_nursery() as nursery:
        await call(nursery, REFUSED, endpoint.port, tmp_path / "refused").wait_ok()
    with pytest.raises(trio.WouldBlock):
        endpoint.incoming.receive_nowait()
    assert endpoint.probe_gate is not None and endpoint.probe_gate.refused == 2
