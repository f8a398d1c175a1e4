"""Answering-machine detection from the first seconds of the callee's audio: pure functions
over 16-bit samples, no I/O and no clock (the samples are the clock: 8,000 a second).

Place: the SIP dialer (`ivr.adapters.dialer.listen`) records the first seconds of an answered
call to a file inside pjsua2 and feeds what it reads to these detectors from a worker
thread, so Python never sits in the per-frame media path (PJSUA2-NOTES, pitfall 9).

`MachineDetector` follows the classic speech-length and silence-cadence rules (as in
Asterisk's AMD): audio is cut into 20 ms frames, each voiced or silent against a threshold
that follows the line's noise floor; runs of voiced frames are words.

- a person answers with a short greeting ("hello?", "喂？") and then waits: speech no longer
  than `greeting` followed by `after_greeting` of silence -> "person";
- a machine speaks on: one run of speech longer than `greeting`, or more than `max_words`
  words -> "machine"; a long silence before any speech (`initial_silence`) -> "machine";
- nothing decided after `total` seconds -> "person" (talking to a machine costs less than
  hanging up on a person).

`BeepDetector` waits for the end of a machine's greeting: a steady tone (the beep: most of
a frame's energy at one frequency, the same over consecutive frames) that then stops, or
failing a beep, `quiet_after` seconds of silence after speech.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

RATE = 8000
FRAME = 160  # 20 ms at 8 kHz

Verdict = Literal["person", "machine"]


@dataclass(frozen=True)
class AmdSettings:
    """Seconds, except `max_words` and the levels. Asterisk's defaults, except the silence
    that separates words (100 ms, not 50: Mandarin syllables come 50-100 ms apart), chosen
    on a tuning draw of the labelled set (benchmarks/amd_accuracy.py measures another)."""

    initial_silence: float = 2.5
    greeting: float = 1.5
    after_greeting: float = 0.8
    total: float = 5.0
    min_word: float = 0.1
    between_words: float = 0.1  # Mandarin syllables are 50-100 ms apart: not words
    max_words: int = 3
    min_level: float = 400.0  # RMS a voiced frame reaches at least (16-bit linear)
    noise_factor: float = 4.0  # ... and this many times the noise floor


def frame_rms(samples: Sequence[int]) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) if samples else 0.0


class _Frames:
    """Cuts a stream of samples into whole frames; keeps the remainder for the next feed."""

    def __init__(self) -> None:
        self._rest: list[int] = []

    def cut(self, samples: Sequence[int]) -> list[Sequence[int]]:
        data = self._rest + list(samples)
        whole = len(data) - len(data) % FRAME
        self._rest = data[whole:]
        return [data[i : i + FRAME] for i in range(0, whole, FRAME)]


class _Voicing:
    """Voiced or silent, against max(min_level, noise floor x factor); the floor follows the
    quietest frames (slowly up, at once down)."""

    def __init__(self, settings: AmdSettings) -> None:
        self._settings = settings
        self._floor = settings.min_level / settings.noise_factor

    def voiced(self, frame: Sequence[int]) -> bool:
        level = frame_rms(frame)
        threshold = max(self._settings.min_level, self._floor * self._settings.noise_factor)
        if level < threshold:
            self._floor = level if level < self._floor else self._floor * 0.95 + level * 0.05
        return level >= threshold


class MachineDetector:
    """Feed samples as they come; `feed` returns the verdict once there is one."""

    def __init__(self, settings: AmdSettings | None = None) -> None:
        self.settings = s = settings or AmdSettings()
        self._frames, self._voicing = _Frames(), _Voicing(s)
        self._per_second = RATE / FRAME
        self.elapsed = 0  # frames seen
        self.words = 0
        self._voiced_run = 0
        self._silent_run = 0
        self._in_word = False
        self._heard_speech = False
        self.verdict: Verdict | None = None
        self.reason = ""

    def _frames_of(self, seconds: float) -> int:
        return max(1, round(seconds * self._per_second))

    def feed(self, samples: Sequence[int]) -> Verdict | None:
        for frame in self._frames.cut(samples):
            if self.verdict is None:
                self._step(self._voicing.voiced(frame))
        return self.verdict

    def _decide(self, verdict: Verdict, reason: str) -> None:
        self.verdict, self.reason = verdict, reason

    def _step(self, voiced: bool) -> None:
        s = self.settings
        self.elapsed += 1
        if voiced:
            self._voiced_run += 1
            self._silent_run = 0
            if not self._in_word and self._voiced_run >= self._frames_of(s.min_word):
                self._in_word, self._heard_speech = True, True
                self.words += 1
                if self.words > s.max_words:
                    return self._decide("machine", f"more than {s.max_words} words")
            if self._voiced_run > self._frames_of(s.greeting):
                return self._decide("machine", "a long greeting")
        else:
            self._silent_run += 1
            if self._silent_run >= self._frames_of(s.between_words):
                self._voiced_run, self._in_word = 0, False
            if not self._heard_speech and self._silent_run >= self._frames_of(s.initial_silence):
                return self._decide("machine", "silence after answering")
            if self._heard_speech and self._silent_run >= self._frames_of(s.after_greeting):
                return self._decide("person", "a short greeting, then silence")
        if self.elapsed >= self._frames_of(s.total):
            self._decide("person", "no decision in time")
        return None


@dataclass(frozen=True)
class BeepSettings:
    min_tone: float = 0.12  # seconds of steady tone that make a beep
    tonality: float = 0.6  # share of a frame's energy at its main frequency
    low: float = 300.0  # Hz: beeps are between these
    high: float = 3000.0
    steadiness: float = 0.06  # the frequency may move this much (relative) between frames
    quiet_after: float = 2.0  # no beep: this long a silence after speech ends the greeting
    min_level: float = 400.0


class BeepDetector:
    """Feed a machine's audio after the verdict; `feed` returns True once the greeting is
    over (its beep ended, or a long silence after it)."""

    def __init__(self, settings: BeepSettings | None = None) -> None:
        self.settings = settings or BeepSettings()
        self._frames = _Frames()
        self._tone_frames = 0
        self._last_frequency = 0.0
        self._silent = 0
        self.heard_beep = False
        self.done = False

    def feed(self, samples: Sequence[int]) -> bool:
        s = self.settings
        for frame in self._frames.cut(samples):
            if self.done:
                break
            level = frame_rms(frame)
            frequency = _tone_frequency(frame, level, s)
            if frequency and (
                not self._tone_frames or abs(frequency - self._last_frequency) <= s.steadiness * frequency
            ):
                self._tone_frames += 1
                self._last_frequency = frequency
                self._silent = 0
                continue
            beep_long_enough = self._tone_frames * FRAME >= s.min_tone * RATE
            self._tone_frames = 1 if frequency else 0
            self._last_frequency = frequency
            if beep_long_enough:  # the tone just stopped: the greeting is over
                self.heard_beep = self.done = True
                break
            self._silent = self._silent + 1 if level < s.min_level else 0
            if self._silent * FRAME >= s.quiet_after * RATE:
                self.done = True
        return self.done


def _tone_frequency(frame: Sequence[int], level: float, s: BeepSettings) -> float:
    """The frame's frequency when it is a pure tone (most energy at one frequency), else 0.
    The zero crossings give the candidate; one Goertzel filter there measures the share."""
    if level < s.min_level:
        return 0.0
    frequency = _crossing_frequency(frame)
    if not s.low <= frequency <= s.high:
        return 0.0
    power = _goertzel(frame, frequency)
    total = sum(x * x for x in frame) * len(frame) / 2
    return frequency if total and power / total >= s.tonality else 0.0


def _crossing_frequency(frame: Sequence[int]) -> float:
    """Frequency from the zero crossings, their instants interpolated between samples."""
    first = last = -1.0
    count = 0
    for i in range(1, len(frame)):
        a, b = frame[i - 1], frame[i]
        if (a < 0) != (b < 0):
            at = i - 1 + a / (a - b)
            first = at if count == 0 else first
            last, count = at, count + 1
    if count < 3 or last <= first:
        return 0.0
    return (count - 1) * RATE / (2 * (last - first))


def _goertzel(frame: Sequence[int], frequency: float) -> float:
    coefficient = 2 * math.cos(2 * math.pi * frequency / RATE)
    s1 = s2 = 0.0
    for x in frame:
        s1, s2 = x + coefficient * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coefficient * s1 * s2
