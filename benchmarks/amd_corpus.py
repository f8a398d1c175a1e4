"""A labelled set of answered calls for answering-machine detection, made with espeak-ng and
sox: people saying "hello?" / "喂？" and machine greetings ending in a beep, in English and
Mandarin, several voices, speeds and pitches, with the silences a real answer has, passed
through G.711 u-law as on the phone line.

Used by `benchmarks/amd_accuracy.py` (the README's figures) and, a smaller draw of it, by
tests/outbound/test_amd.py. Each recording is 8 kHz 16-bit mono WAV; `Sample` says what it
is and, for a machine, when its beep ends (so the time the message starts can be judged).
"""

from __future__ import annotations

import random
import subprocess
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

RATE = 8000

PERSON = {
    "en": ["Hello?", "Hello.", "Yes?", "Hi.", "Hello, who is this?", "Hello, speaking.", "Yeah, hello?"],
    "zh": ["喂？", "喂，你好。", "你好，哪位？", "喂，请讲。", "喂？你好。", "您好。"],
}
MACHINE = {
    "en": [
        "Hi, you have reached John Smith. I can't take your call right now. Please leave a message "
        "after the tone.",
        "The person you are calling is not available. Please record your message after the beep.",
        "Hello, this is the Li family. We are out at the moment, leave your name and number and we "
        "will call you back.",
        "You have reached the voice mailbox of extension four two one. Please leave a message.",
    ],
    "zh": [
        "您好，您拨打的用户暂时无法接听，请在提示音后留言。",
        "你好，我现在不方便接电话，请留言，我会尽快给你回电。",
        "您好，这里是王先生的语音信箱，请在嘀声后留下您的姓名和电话。",
        "您拨打的电话暂时无人接听，请在听到提示音后开始录音。",
    ],
}
VOICES = {
    "en": ["en-us", "en-gb", "en-us+f3", "en-gb+m3", "en-us+f4", "en-gb-x-rp+f2"],
    "zh": ["cmn", "cmn+f3", "cmn+m3", "cmn+f4", "cmn+f2"],
}


@dataclass(frozen=True)
class Sample:
    path: Path
    label: str  # "person" or "machine"
    language: str
    text: str
    beep_end: float | None  # seconds from the start of the recording


def generate(folder: Path, count: int, *, seed: int = 7) -> list[Sample]:
    """`count` recordings (half people, half machines) written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    return [_one(folder, index, rng) for index in range(count)]


def _one(folder: Path, index: int, rng: random.Random) -> Sample:
    language = rng.choice(["en", "zh"])
    label = "person" if index % 2 == 0 else "machine"
    text = rng.choice((PERSON if label == "person" else MACHINE)[language])
    voice = rng.choice(VOICES[language])
    speech = folder / f"speech-{index}.wav"
    speed, pitch = str(rng.randint(140, 185)), str(rng.randint(35, 65))
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", speed, "-p", pitch, "-w", str(speech), text],
        check=True,
        capture_output=True,
    )
    spoken = _load(_to_line(speech, folder / f"line-{index}.wav"))
    lead = [0] * int(rng.uniform(0.15, 0.9) * RATE)
    if label == "person":
        audio = lead + spoken + [0] * int(4.0 * RATE)
        beep_end = None
    else:
        gap = [0] * int(rng.uniform(0.2, 0.6) * RATE)
        beep = _tone(
            rng.choice([440.0, 800.0, 1000.0, 1400.0]), rng.uniform(0.25, 0.8), rng.uniform(0.25, 0.5)
        )
        beep_end = (len(lead) + len(spoken) + len(gap) + len(beep)) / RATE
        audio = lead + spoken + gap + beep + [0] * int(3.0 * RATE)
    audio = _noisy(audio, rng)
    path = folder / f"{label}-{index:04d}.wav"
    _save(path, audio)
    for scratch in (speech, folder / f"line-{index}.wav"):
        scratch.unlink(missing_ok=True)
    return Sample(path, label, language, text, beep_end)


def _to_line(source: Path, target: Path) -> Path:
    """espeak-ng's 22 kHz speech as the phone line carries it: 8 kHz, through u-law, back."""
    ulaw = target.with_suffix(".ul.wav")
    subprocess.run(["sox", str(source), "-r", "8000", "-c", "1", "-e", "u-law", str(ulaw)], check=True)
    subprocess.run(["sox", str(ulaw), "-e", "signed-integer", "-b", "16", str(target)], check=True)
    ulaw.unlink()
    return target


def _tone(frequency: float, seconds: float, level: float) -> list[int]:
    import math

    n = int(seconds * RATE)
    return [int(level * 32767 * math.sin(2 * math.pi * frequency * i / RATE)) for i in range(n)]


def _noisy(audio: list[int], rng: random.Random) -> list[int]:
    """A quiet line hiss (about -60 dBFS), as a real line has."""
    return [max(-32768, min(32767, s + int(rng.gauss(0, 30)))) for s in audio]


def _load(path: Path) -> list[int]:
    with wave.open(str(path), "rb") as w:
        frames = w.readframes(w.getnframes())
    import array

    data = array.array("h")
    data.frombytes(frames)
    return list(data)


def _save(path: Path, samples: list[int]) -> None:
    import array

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(array.array("h", samples).tobytes())


def samples_of(path: Path) -> list[int]:
    return _load(path)


def chunks(samples: list[int], size: int = 2000) -> Iterator[list[int]]:
    """The recording as the dialer reads it: about a quarter second at a time."""
    for start in range(0, len(samples), size):
        yield samples[start : start + size]
