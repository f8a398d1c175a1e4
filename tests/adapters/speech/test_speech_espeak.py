"""espeak-ng prompts: 8 kHz mono 16-bit WAV, the right voice, rendered once, with or
without sox."""

from __future__ import annotations

import itertools
import math
import shutil
import wave
from array import array
from pathlib import Path

import pytest
import trio

from ivr.adapters.speech.espeak import EspeakRenderer, SpeechError, voice_for
from ivr.adapters.speech.wavfile import resample_samples, wav_duration, write_tone


@pytest.fixture
def espeak() -> None:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng)")


def _format(path: Path) -> tuple[int, int, int]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth()


def _peak(path: Path) -> int:
    with wave.open(str(path), "rb") as w:
        samples = array("h", w.readframes(w.getnframes()))
    return max(abs(s) for s in samples)


def test_voice_for_maps_chinese_to_mandarin_and_english_to_en() -> None:
    assert voice_for("zh") == "cmn"
    assert voice_for("zh-CN") == "cmn"
    assert voice_for("zh_CN") == "cmn"
    assert voice_for("en") == "en"
    assert voice_for("en-GB") == "en"
    assert voice_for("fr") == "fr"
    with pytest.raises(ValueError, match="language"):
        voice_for("")


@pytest.mark.usefixtures("espeak")
@pytest.mark.parametrize("use_sox", [True, False], ids=["sox", "pure-python"])
async def test_renders_8khz_mono_16bit_once_and_then_serves_the_cache(tmp_path: Path, use_sox: bool) -> None:
    if use_sox and shutil.which("sox") is None:
        pytest.skip("sox is not installed (apt-get install sox)")
    tts = EspeakRenderer(tmp_path, use_sox=use_sox)
    first = await tts.render("您好，欢迎致电。", "zh")
    again = await tts.render("您好，欢迎致电。", "zh-CN")
    assert first == again
    assert tts.renders == 1
    assert _format(first.path) == (8000, 1, 2)
    assert first.path.parent == tmp_path
    assert first.path.name == f"{tts.cache_key('您好，欢迎致电。', 'zh')}.wav"
    assert 0.8 < first.duration < 6
    assert _peak(first.path) > 3000  # speech, not silence
    left = await trio.to_thread.run_sync(lambda: sorted(p.name for p in tmp_path.iterdir()))
    assert left == [first.path.name]  # no temporaries left


@pytest.mark.usefixtures("espeak")
async def test_concurrent_requests_for_one_prompt_share_one_render(tmp_path: Path) -> None:
    tts = EspeakRenderer(tmp_path)
    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(tts.render, "Press one for balances.", "en")
    assert tts.renders == 1


@pytest.mark.usefixtures("espeak")
async def test_other_text_voice_or_rate_is_another_file(tmp_path: Path) -> None:
    tts = EspeakRenderer(tmp_path)
    keys = {
        tts.cache_key("one", "en"),
        tts.cache_key("two", "en"),
        tts.cache_key("one", "zh"),
        EspeakRenderer(tmp_path, rate=16000).cache_key("one", "en"),
    }
    assert len(keys) == 4


async def test_missing_engine_and_empty_text_are_speech_errors(tmp_path: Path) -> None:
    tts = EspeakRenderer(tmp_path, espeak="espeak-ng-not-installed-here")
    with pytest.raises(SpeechError, match="not installed"):
        await tts.render("hello", "en")
    with pytest.raises(SpeechError, match="empty"):
        await tts.render("  ", "en")


def test_pure_python_resampler_keeps_a_tone_and_its_length(tmp_path: Path) -> None:
    rate_in = 22050
    tone = array("h", (int(10000 * math.sin(2 * math.pi * 440 * i / rate_in)) for i in range(rate_in)))
    out = resample_samples(tone, rate_in, 8000)
    assert len(out) == 8000
    # 440 Hz survives the box filter nearly intact: count zero crossings (2 per period).
    crossings = sum(1 for a, b in itertools.pairwise(out) if (a < 0) != (b < 0))
    assert 870 <= crossings <= 890
    assert 9000 < max(out) <= 10000


def test_write_tone_writes_a_beep_of_the_asked_length(tmp_path: Path) -> None:
    path = tmp_path / "beep.wav"
    write_tone(path, 1000.0, 0.25)
    assert _format(path) == (8000, 1, 2)
    assert wav_duration(path) == pytest.approx(0.25)
    assert _peak(path) > 9000
