"""`SipDialer` against the sipp carrier on 127.0.0.1: every outcome a called party can give
(a person, an answering machine, busy, ringing on, a failing network), the caller ID and
attempt header on the INVITE, the flow run on a person or after a machine's beep."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
import trio
from outbound_support import SCENARIOS, Carrier, run_carrier
from sipp_carrier import free_udp_port

from ivr.adapters.dialer.sip import SipDialer, TrunkLimits
from ivr.adapters.sip.pjthread import SipConfig, open_sip_endpoint
from ivr.adapters.sip.pjtrunks import TrunkSettings, open_trunks
from ivr.adapters.speech.espeak import EspeakRenderer
from ivr.runtime.ports import AnsweredBy, CallLeg, DialRequest

pytestmark = [pytest.mark.usefixtures("need_sip"), pytest.mark.sip]


@asynccontextmanager
async def dialer_on_carrier(tmp_path: Path) -> AsyncIterator[tuple[SipDialer, Carrier]]:
    async with trio.open_nursery() as nursery:
        carrier: Carrier = await nursery.start(run_carrier, tmp_path / "carrier")
        async with (
            open_sip_endpoint(SipConfig(port=0)) as endpoint,
            open_trunks(endpoint, [TrunkSettings("carrier", carrier.gateway, caller_id="95500")]) as trunks,
        ):
            limits = {"carrier": TrunkLimits(channels=8, reserve=2, caller_id="95500")}
            renderer = EspeakRenderer(tmp_path / "tts")
            yield SipDialer(endpoint, trunks, limits, renderer, work_dir=tmp_path / "amd"), carrier
        nursery.cancel_scope.cancel()


class Flow:
    def __init__(self) -> None:
        self.ran: list[tuple[str, str, str, AnsweredBy]] = []
        self.started: dict[str, float] = {}

    async def __call__(self, leg: CallLeg, answered_by: AnsweredBy) -> None:
        self.ran.append((leg.call_id, leg.caller, leg.dialed, answered_by))
        self.started[leg.dialed] = trio.current_time()
        await trio.sleep(0.3)


async def test_each_called_party_gives_its_outcome(tmp_path: Path) -> None:
    async with dialer_on_carrier(tmp_path) as (dialer, carrier):
        flow = Flow()
        results = {}
        greeting = wav_seconds(carrier.folder / "machine.wav")  # ends with its beep
        dialled = trio.current_time()

        async def attempt(number: str, leave_message: bool = False) -> None:
            request = DialRequest(
                f"t-{number}-1", number, "carrier", ring_timeout=Decimal(3), leave_message=leave_message
            )
            results[number] = await dialer.call(request, flow)

        async with trio.open_nursery() as nursery:
            for number in ("1001", "2001", "3001", "4001", "5001"):
                nursery.start_soon(attempt, number)
            nursery.start_soon(attempt, "2002", True)
        assert dialer.outbound == {"carrier": 0}
    got = {n: (r.outcome, r.status, r.ran_flow) for n, r in results.items()}
    assert got == {
        "1001": ("answered", 200, True),
        "2001": ("machine", 200, False),
        "2002": ("machine", 200, True),
        "3001": ("busy", 486, False),
        "4001": ("no_answer", 0, False),
        "5001": ("failed", 503, False),
    }
    assert sorted(flow.ran) == [
        ("t-1001-1", "95500", "1001", "person"),
        ("t-2002-1", "95500", "2002", "machine"),
    ]
    assert sorted(carrier.invites()) == sorted((n, f"t-{n}-1") for n in results)
    # the person is spoken to within 2 s of "hello?"; the message starts once the beep is over
    assert flow.started["1001"] - dialled < 3.0
    assert greeting < flow.started["2002"] - dialled < greeting + 1.5


def wav_seconds(path: Path) -> float:
    return float(subprocess.run(["soxi", "-D", str(path)], capture_output=True, check=True, text=True).stdout)


async def test_a_full_trunk_gives_no_free_channel(tmp_path: Path) -> None:
    async with dialer_on_carrier(tmp_path) as (dialer, _):
        assert dialer.free_channels("carrier") == 6  # 8 channels, 2 kept for inbound
        assert dialer.free_channels("nowhere") == 0


@asynccontextmanager
async def registrar(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """sipp as a carrier that wants digest authentication (scenarios/registrar.xml)."""
    folder = tmp_path / "registrar"
    folder.mkdir()
    port = free_udp_port()
    cmd = ["sipp", "-sf", str(SCENARIOS / "registrar.xml"), "-i", "127.0.0.1", "-p", str(port)]
    cmd += ["-mp", str(free_udp_port()), "-nostdin", "-trace_logs"]
    async with trio.open_nursery() as nursery:
        await nursery.start(
            partial(
                trio.run_process,
                cmd,
                cwd=str(folder),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
        )
        await trio.sleep(0.5)
        yield f"127.0.0.1:{port}", folder
        nursery.cancel_scope.cancel()


def sipp_log(folder: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in folder.glob("*_logs.log"))


@pytest.mark.parametrize("password", ["s3cret-trunk", "wrong"])
async def test_a_trunk_registers_and_answers_challenges_with_its_credentials(
    tmp_path: Path, password: str
) -> None:
    async with registrar(tmp_path) as (gateway, folder):
        trunk = TrunkSettings(
            "carrier",
            gateway,
            caller_id="95500",
            username="ivr",
            password=password,
            register=True,
            register_expires=120,
        )
        async with (
            open_sip_endpoint(SipConfig(port=0)) as endpoint,
            open_trunks(endpoint, [trunk]) as trunks,
        ):
            registration = trunks.registrations["carrier"]
            with trio.fail_after(10):
                while registration.status == 0:
                    await registration.changed.wait()
            assert registration.registered is (password == "s3cret-trunk")
            limits = {"carrier": TrunkLimits(channels=4, reserve=0, caller_id="95500")}
            dialer = SipDialer(
                endpoint, trunks, limits, EspeakRenderer(tmp_path / "tts"), work_dir=tmp_path / "amd"
            )
            flow = Flow()
            request = DialRequest("t-auth-1", "1001", "carrier", detect_machines=False)
            result = await dialer.call(request, flow)
        log = sipp_log(folder)
    if password == "s3cret-trunk":
        assert (result.outcome, result.status, result.ran_flow) == ("answered", 200, True)
        assert "REGISTER auth=true expires=120" in log
        assert "UNREGISTER expires=0" in log  # shut down cleanly: the gateway forgets us
        assert "INVITE auth=true" in log and "sip:95500@" in log  # the caller ID is the From
    else:
        assert (result.outcome, result.status) == ("failed", 403)
    assert password not in log
