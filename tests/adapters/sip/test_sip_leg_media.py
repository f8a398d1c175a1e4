"""The SIP leg's other media paths over a real call: recording the caller (stop key, beep,
secret spans), a bad prompt file, and the build's call limit."""

from __future__ import annotations

import socket
import wave
from array import array
from decimal import Decimal
from pathlib import Path

import pytest
import trio
from sip_support import open_rtp_peer, start_sipp

from ivr.adapters.sip import leg as leg_module
from ivr.adapters.sip.leg import SipCallLeg
from ivr.adapters.sip.limits import compiled_max_calls, effective_max_calls
from ivr.adapters.sip.pjthread import SipConfig, SipEndpoint, SipError, SipStartError, open_sip_endpoint
from ivr.adapters.speech.espeak import EspeakRenderer
from ivr.adapters.speech.wavfile import wav_duration, write_tone
from ivr.runtime.ports import SpokenPrompt


def test_the_installed_pjsua2_is_the_hosting_build_with_1024_calls() -> None:
    assert compiled_max_calls() >= 1024, (
        "this pjsua2 is an upstream-default build (4 calls): run bash scripts/build-pjsua2.sh .venv"
    )


async def test_the_endpoint_reports_the_limit_in_force() -> None:
    async with open_sip_endpoint(SipConfig(port=0, max_calls=10)) as ep:
        assert ep.max_calls == effective_max_calls() == 10
    async with open_sip_endpoint(SipConfig(port=0, max_calls=100_000)) as ep:
        assert ep.max_calls == compiled_max_calls()  # clamped by the build


async def test_a_port_in_use_fails_to_start_with_a_clear_error_and_leaves_no_endpoint() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        with pytest.raises(SipStartError):
            async with open_sip_endpoint(SipConfig(port=taken.getsockname()[1])):
                pass  # pragma: no cover
    async with open_sip_endpoint(SipConfig(port=0)) as ep:  # the library was cleaned up
        assert ep.port > 0


async def test_a_second_endpoint_in_one_process_is_refused() -> None:
    async with open_sip_endpoint(SipConfig(port=0)):
        with pytest.raises(SipStartError, match="already running"):
            async with open_sip_endpoint(SipConfig(port=0)):
                pass  # pragma: no cover


def _free_rtp_pair() -> int:
    """An even port free for RTP with its odd RTCP neighbour."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1]) & ~1
        try:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as a,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as b,
            ):
                a.bind(("0.0.0.0", port))
                b.bind(("0.0.0.0", port + 1))
            return port
        except OSError:
            continue
    raise AssertionError("no free RTP port pair")


@pytest.mark.usefixtures("need_sipp")
async def test_a_call_sends_its_audio_from_the_configured_rtp_port_for_as_long_as_the_prompt(
    renderer: EspeakRenderer, tmp_path: Path
) -> None:
    rtp = _free_rtp_pair()
    async with open_sip_endpoint(SipConfig(port=0, rtp_port=rtp)) as ep, trio.open_nursery() as nursery:
        peer = await open_rtp_peer()
        nursery.start_soon(peer.receive_forever)
        sipp = start_sipp(nursery, "uac_prompt_rtp.xml", ep.port, tmp_path, keys={"rtp_port": str(peer.port)})
        with trio.fail_after(10):
            handle = await ep.incoming.receive()
        leg = SipCallLeg(handle, renderer)
        await leg.answer()
        await leg.play(SpokenPrompt("hello", "en"), barge_in=False)
        assert peer.ivr_addr is not None and peer.ivr_addr[1] == rtp
        # An audio-file prompt lasts as long as the file (the player reads its length).
        tone = tmp_path / "tone.wav"
        write_tone(tone, 440.0, 0.6)
        start = trio.current_time()
        assert await leg.play(SpokenPrompt("", "en", str(tone)), barge_in=False) is False
        assert wav_duration(tone) <= trio.current_time() - start < wav_duration(tone) + 0.5
        await leg.hangup()
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()


@pytest.mark.usefixtures("need_sipp")
async def test_records_the_caller_until_the_stop_key_and_mutes_secret_spans(
    endpoint: SipEndpoint, renderer: EspeakRenderer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[Path] = []
    real_sync = leg_module.sync_to_disk

    def spy(path: Path) -> None:
        real_sync(path)
        synced.append(path)

    monkeypatch.setattr(leg_module, "sync_to_disk", spy)
    peer = await open_rtp_peer()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(peer.receive_forever)
        sipp = start_sipp(
            nursery, "uac_prompt_rtp.xml", endpoint.port, tmp_path, keys={"rtp_port": str(peer.port)}
        )
        with trio.fail_after(10):
            handle = await endpoint.incoming.receive()
        leg = SipCallLeg(handle, renderer, recordings_dir=tmp_path / "rec")
        await leg.answer()

        # Bad prompt files fail in this task only; the call goes on.
        with pytest.raises(FileNotFoundError):
            await leg.play(SpokenPrompt("", "en", str(tmp_path / "missing.wav")), barge_in=False)
        eight_bit = tmp_path / "8bit.wav"
        with wave.open(str(eight_bit), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(1)
            w.setframerate(8000)
            w.writeframes(bytes(800))
        with pytest.raises(SipError):  # pjmedia refuses it: pj.Error comes back as SipError
            await leg.play(SpokenPrompt("", "en", str(eight_bit)), barge_in=False)

        async def caller_speaks_then_presses_pound() -> None:
            await peer.send_tone(1.0)
            await peer.send_dtmf("#")

        nursery.start_soon(caller_speaks_then_presses_pound)
        recording = await leg.record(
            max_length=Decimal(8), stop_key="#", beep=True, recording_id="complaint-1"
        )
        assert recording.ended_by == "key"
        assert Decimal("0.5") < recording.duration < Decimal(3)

        leg.set_secret_entry(True)
        nursery.start_soon(peer.send_tone, 0.6)
        secret = await leg.record(
            max_length=Decimal("0.5"), stop_key=None, beep=False, recording_id="secret-1"
        )
        leg.set_secret_entry(False)
        assert secret.ended_by == "max_length"
        await leg.hangup()
        await sipp.wait_ok()
        nursery.cancel_scope.cancel()

    assert recording.path is not None and secret.path is not None
    assert synced == [Path(recording.path), Path(secret.path)]  # each file fsynced when it ends
    assert _peak(Path(recording.path)) > 2000  # the caller's tone is in the file
    assert _peak(Path(secret.path)) < 200  # the secret span is silent


def _peak(path: Path) -> int:
    with wave.open(str(path), "rb") as w:
        assert w.getframerate() == 8000
        samples = array("h", w.readframes(w.getnframes()))
    return max((abs(s) for s in samples), default=0)
